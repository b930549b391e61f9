package marketdata

import (
	"encoding/json"
	"fmt"

	"github.com/iprs/iprs/internal/pricing"
)

// LoadMarketData decodes a stored snapshot payload (store.MarketSnapshot's
// Payload) into the pricing engine's MarketData. A payload holding a
// number beyond the range of a double (kept only in FAIL snapshots) is an
// error.
func LoadMarketData(payload []byte) (pricing.MarketData, error) {
	var d pricing.MarketData
	if err := json.Unmarshal(payload, &d); err != nil {
		return pricing.MarketData{}, fmt.Errorf("decode market snapshot payload: %w", err)
	}
	return d, nil
}

// LoadMarket decodes a stored snapshot payload and builds the validated
// pricing market from it.
func LoadMarket(payload []byte) (*pricing.Market, error) {
	d, err := LoadMarketData(payload)
	if err != nil {
		return nil, err
	}
	m, err := pricing.NewMarket(d)
	if err != nil {
		return nil, fmt.Errorf("build market: %w", err)
	}
	return m, nil
}
