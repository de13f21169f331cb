package authserver

// TokenMetrics counts the token endpoint's answers; *metrics.Metrics is one.
// reason is the reason of the token.refused audit event.
type TokenMetrics interface {
	TokenIssued(grant string)
	TokenRefused(grant, reason string)
}

// noTokenMetrics counts nothing.
type noTokenMetrics struct{}

func (noTokenMetrics) TokenIssued(string)          {}
func (noTokenMetrics) TokenRefused(string, string) {}
