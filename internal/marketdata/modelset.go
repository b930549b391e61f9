package marketdata

import (
	"io"
	"net/http"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/web"
)

// registerModelSets adds the model set routes (SPEC §4.1): immutable,
// content-hashed behavioural assumptions for loans, stored like scenario
// sets.
func (s *Service) registerModelSets(m *web.Mux) {
	m.HandleFunc("POST "+Prefix+"/model-sets", onlyParams(s.createModelSet))
	m.HandleFunc("GET "+Prefix+"/model-sets/{id}", onlyParams(s.getSet(modelSets)))
	m.HandleFunc("GET "+Prefix+"/model-sets", onlyParams(s.listSets(modelSets), "limit", "cursor"))
}

// createModelSet answers POST /mkt/model-sets: 201 with the stored set, 200
// for the same content again, 409 for other content under the same id,
// 400 listing every problem of the document with its pointer.
func (s *Service) createModelSet(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return web.BodyReadError(err)
	}
	canonical, cp := canonicalProblem(body)
	if cp != nil {
		return invalidSet("the model set", []apperr.FieldError{*cp})
	}
	ms, probs := pricing.ParseModelSet(canonical)
	if len(probs) > 0 {
		fields := make([]apperr.FieldError, len(probs))
		for i, p := range probs {
			fields[i] = apperr.FieldError{Pointer: p.Pointer, Detail: p.Detail}
		}
		return invalidSet("the model set", fields)
	}
	return s.storeSet(w, r, modelSets, ms.ID(), ms.Description(), ms.Len(), canonical)
}
