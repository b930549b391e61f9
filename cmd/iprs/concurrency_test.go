package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/client"
	"github.com/iprs/iprs/internal/gen"
	"github.com/iprs/iprs/internal/pricing"
)

// concurrentPosts is how many requests the concurrency test sends at once.
const concurrentPosts = 50

// TestConcurrentCreatesMakeOneObject sends concurrentPosts requests at once
// that create the same object — a market snapshot, a position snapshot, a
// model set, a scenario set, a run — on each store, and requires what SPEC
// §1 and §4 promise of an idempotent, immutable create:
//
//   - all identical: exactly one 201, every other answer 200 naming the
//     same object (and the same payload hash), and one object stored: one
//     audit entry, one item in its list, and for a run one set of tasks;
//   - half of them with other content under the same id, interleaved:
//     exactly one 201; the answers whose content is the winner's are 200,
//     the others 409 problems, and the stored object is the winner's.
func TestConcurrentCreatesMakeOneObject(t *testing.T) {
	for _, tdb := range testDatabases(t) {
		t.Run(tdb.name, func(t *testing.T) {
			d := MustStartDev(t, tdb.db, nil)
			c := client.New(d.URL, "", nil)
			sfx := uniqueSuffix()
			marketID := "MKT-RACE-INPUT-" + sfx
			gi := MustPushGenerated(t, c, marketID, gen.Options{NodeID: "BOOK-RACE-INPUT-" + sfx, AsOf: demoAsOf, Loans: 40, Bonds: 5, FXForwards: 5, Seed: 3})
			for _, k := range concurrentKinds(t, sfx, marketID, gi.Receipt.PositionSnapshotID) {
				t.Run(k.name, func(t *testing.T) {
					same := k.doc("SAME", false)
					answers := postAtOnce(t, d.URL, k.path, k.idKey, func(int) []byte { return same.body })
					checkOneCreated(t, k, same.id, answers, func(int) bool { return true })
					checkStoredOnce(t, c, k, same.id)

					a, b := k.doc("AB", false), k.doc("AB", true)
					if a.id != b.id || bytes.Equal(a.body, b.body) {
						t.Fatalf("the conflicting documents must share an id and differ: %s %s", a.id, b.id)
					}
					answers = postAtOnce(t, d.URL, k.path, k.idKey, func(i int) []byte {
						if i%2 == 0 {
							return a.body
						}
						return b.body
					})
					winner := -1
					for i, an := range answers {
						if an.status == http.StatusCreated {
							winner = i % 2
						}
					}
					if winner < 0 {
						t.Fatalf("POST %s %d times at once with two contents: no 201 among %+v", k.path, len(answers), answers)
					}
					checkOneCreated(t, k, a.id, answers, func(i int) bool { return i%2 == winner })
					checkStoredOnce(t, c, k, a.id)
					var stored struct {
						PayloadHash string   `json:"payload_hash"`
						Measures    []string `json:"measures"`
					}
					if _, err := c.Do(context.Background(), http.MethodGet, k.get(a.id), nil, "", &stored); err != nil {
						t.Fatalf("GET %s: %v", k.get(a.id), err)
					}
					if k.hashed && stored.PayloadHash != answers[winner].hash {
						t.Errorf("stored payload hash %s, the 201 answered %s", stored.PayloadHash, answers[winner].hash)
					}
					// The run documents differ in their measures: A has two, B one.
					if k.name == "run" && len(stored.Measures) != 2-winner {
						t.Errorf("stored run has measures %v, but the 201 answered a request with %d", stored.Measures, 2-winner)
					}
				})
			}
			if t.Failed() {
				return
			}
			// The runs created under the race complete like any other.
			for _, id := range []string{raceID("RUN-RACE", "SAME", sfx), raceID("RUN-RACE", "AB", sfx)} {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				waitCompleted(ctx, t, c, id)
				cancel()
			}
		})
	}
}

// concurrentKind is one kind of object the concurrency test creates.
type concurrentKind struct {
	name   string
	path   string // the POST route
	idKey  string // the member of the answer naming the object
	hashed bool   // the answers carry payload_hash
	list   string // the list route ("": none), the items carrying idKey
	// doc returns a document of the object named by variant; other is
	// the same id with other content.
	doc func(variant string, other bool) raceDoc
}

// get is the route that reads the object id.
func (k concurrentKind) get(id string) string { return k.path + "/" + url.PathEscape(id) }

// raceDoc is a request body with the id of the object it creates.
type raceDoc struct {
	id   string
	body []byte
}

func raceID(prefix, variant, sfx string) string { return prefix + "-" + variant + "-" + sfx }

func concurrentKinds(t *testing.T, sfx, marketID, snapshotID string) []concurrentKind {
	t.Helper()
	mustJSON := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return []concurrentKind{
		{
			name: "market snapshot", path: "/mkt/snapshots", idKey: "snapshot_id", hashed: true, list: "/mkt/snapshots?limit=1000",
			doc: func(v string, other bool) raceDoc {
				id := raceID("MKT-RACE", v, sfx)
				m := gen.MarketSnapshot(id, demoAsOf)
				if other {
					m["vendor"] = "OTHER-VENDOR"
				}
				return raceDoc{id, mustJSON(m)}
			},
		},
		{
			name: "position snapshot", path: "/orch/position-snapshots", idKey: "position_snapshot_id", hashed: true,
			doc: func(v string, other bool) raceDoc {
				id := raceID("PS-RACE", v, sfx)
				o := gen.Options{SnapshotID: id, NodeID: "BOOK-RACE-" + sfx, AsOf: demoAsOf, Loans: 30, Bonds: 3, FXForwards: 3, Seed: 7}
				if other {
					o.Seed = 8
				}
				var book bytes.Buffer
				if _, err := gen.WritePositionSnapshot(&book, o); err != nil {
					t.Fatal(err)
				}
				return raceDoc{id, book.Bytes()}
			},
		},
		{
			name: "model set", path: "/mkt/model-sets", idKey: "model_set_id", hashed: true, list: "/mkt/model-sets?limit=1000",
			doc: func(v string, other bool) raceDoc {
				id := raceID("MODELS-RACE", v, sfx)
				m := gen.ModelSet(id)
				m["description"] = fmt.Sprintf("race, other content: %t", other)
				return raceDoc{id, mustJSON(m)}
			},
		},
		{
			name: "scenario set", path: "/mkt/scenario-sets", idKey: "scenario_set_id", hashed: true, list: "/mkt/scenario-sets?limit=1000",
			doc: func(v string, other bool) raceDoc {
				id := raceID("SCEN-RACE", v, sfx)
				shift := 25
				if other {
					shift = 50
				}
				return raceDoc{id, mustJSON(map[string]any{
					"scenario_set_id": id,
					"scenarios": []any{map[string]any{
						"scenario_id": "RACE_UP",
						"shocks":      []any{map[string]any{"type": "CURVE_SHIFT", "curves": "*-OIS", "shift_bp": shift}},
					}},
				})}
			},
		},
		{
			name: "run", path: "/orch/runs", idKey: "run_id", list: "/orch/runs?limit=1000",
			doc: func(v string, other bool) raceDoc {
				id := raceID("RUN-RACE", v, sfx)
				measures := []string{"PV", "DV01"}
				if other {
					measures = []string{"PV"}
				}
				return raceDoc{id, mustJSON(map[string]any{
					"run_id":               id,
					"run_type":             "SANDBOX",
					"as_of_time":           demoAsOf.Format(time.RFC3339),
					"market_snapshot_id":   marketID,
					"position_snapshot_id": snapshotID,
					"measures":             measures,
					"scenarios":            pricing.ScenarioIDs()[:2],
					"execution":            map[string]any{"hash_mod": 3},
				})}
			},
		},
	}
}

// raceAnswer is one answer of postAtOnce.
type raceAnswer struct {
	status      int
	contentType string
	id          string // the answer's idKey member
	hash        string // its payload_hash
	body        string
	err         error
}

// postAtOnce sends concurrentPosts POSTs of body(i) to path, released at
// the same instant, each on a connection of its own, and returns the
// answers in the order of i, reading the id from their member idKey.
func postAtOnce(t *testing.T, base, path, idKey string, body func(i int) []byte) []raceAnswer {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: concurrentPosts}, Timeout: 2 * time.Minute}
	defer hc.CloseIdleConnections()
	answers := make([]raceAnswer, concurrentPosts)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range concurrentPosts {
		wg.Go(func() {
			req, err := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(body(i)))
			if err != nil {
				answers[i].err = err
				return
			}
			req.Header.Set("Content-Type", "application/json")
			<-start
			res, err := hc.Do(req)
			if err != nil {
				answers[i].err = err
				return
			}
			defer res.Body.Close()
			b, err := io.ReadAll(res.Body)
			answers[i] = raceAnswer{status: res.StatusCode, contentType: res.Header.Get("Content-Type"), body: string(b), err: err}
			answers[i].id, answers[i].hash = answerIDAndHash(b, idKey)
		})
	}
	close(start)
	wg.Wait()
	return answers
}

// answerIDAndHash reads the member idKey and payload_hash of an answer.
func answerIDAndHash(b []byte, idKey string) (id, hash string) {
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return "", ""
	}
	id, _ = m[idKey].(string)
	hash, _ = m["payload_hash"].(string)
	return id, hash
}

// checkOneCreated requires exactly one 201 among answers, from a request
// for which winnerContent is true; 200 naming the object from every other
// such request, and a 409 problem from the rest.
func checkOneCreated(t *testing.T, k concurrentKind, id string, answers []raceAnswer, winnerContent func(i int) bool) {
	t.Helper()
	counts := map[int]int{}
	hash := ""
	for i, a := range answers {
		if a.err != nil {
			t.Fatalf("POST %s #%d: %v", k.path, i, a.err)
		}
		counts[a.status]++
		switch {
		case a.status == http.StatusCreated && winnerContent(i), a.status == http.StatusOK && winnerContent(i):
			if a.id != id {
				t.Errorf("POST %s #%d: %d naming %q, want %q: %s", k.path, i, a.status, a.id, id, a.body)
			}
			if k.hashed {
				if hash == "" {
					hash = a.hash
				}
				if a.hash == "" || a.hash != hash {
					t.Errorf("POST %s #%d: payload hash %q, another answer %q", k.path, i, a.hash, hash)
				}
			}
		case a.status == http.StatusConflict && !winnerContent(i):
			if !strings.HasPrefix(a.contentType, "application/problem+json") {
				t.Errorf("POST %s #%d: 409 as %s, want a problem: %s", k.path, i, a.contentType, a.body)
			}
		default:
			t.Errorf("POST %s #%d (winner's content: %t): %d %s", k.path, i, winnerContent(i), a.status, a.body)
		}
	}
	if counts[http.StatusCreated] != 1 {
		t.Errorf("POST %s %d times at once: statuses %v, want exactly one 201", k.path, len(answers), counts)
	}
}

// checkStoredOnce requires one audit entry for the object and, for a kind
// with a list, the id once in it; for a run, one task per (product type,
// bucket).
func checkStoredOnce(t *testing.T, c *client.Client, k concurrentKind, id string) {
	t.Helper()
	ctx := context.Background()
	var audit struct {
		Items []struct {
			Action   string `json:"action"`
			ObjectID string `json:"object_id"`
		} `json:"items"`
	}
	if _, err := c.Do(ctx, http.MethodGet, "/orch/audit?limit=1000&object_id="+url.QueryEscape(id), nil, "", &audit); err != nil {
		t.Fatalf("audit of %s: %v", id, err)
	}
	if len(audit.Items) != 1 {
		t.Errorf("%s: %d audit entries %+v, want 1 (the create)", id, len(audit.Items), audit.Items)
	}
	if k.list != "" {
		var list struct {
			Items []map[string]any `json:"items"`
		}
		if _, err := c.Do(ctx, http.MethodGet, k.list, nil, "", &list); err != nil {
			t.Fatalf("GET %s: %v", k.list, err)
		}
		n := 0
		for _, it := range list.Items {
			if it[k.idKey] == id {
				n++
			}
		}
		if n != 1 {
			t.Errorf("GET %s lists %s %d times, want once", k.list, id, n)
		}
	}
	if k.name == "run" {
		var tasks struct {
			Items []struct {
				ProductType string `json:"product_type"`
				Bucket      int    `json:"bucket"`
			} `json:"items"`
		}
		if _, err := c.Do(ctx, http.MethodGet, "/orch/runs/"+url.PathEscape(id)+"/tasks", nil, "", &tasks); err != nil {
			t.Fatalf("tasks of %s: %v", id, err)
		}
		seen := map[string]bool{}
		for _, tk := range tasks.Items {
			key := fmt.Sprintf("%s/%d", tk.ProductType, tk.Bucket)
			if seen[key] {
				t.Errorf("run %s has task %s twice", id, key)
			}
			seen[key] = true
		}
		// The book has loans, bonds and FX forwards, hash_mod 3: at most
		// 9 tasks, and 40 loans fill all three buckets.
		if len(tasks.Items) < 3 || len(tasks.Items) > 9 {
			t.Errorf("run %s has %d tasks, want 3 to 9: %+v", id, len(tasks.Items), tasks.Items)
		}
	}
}
