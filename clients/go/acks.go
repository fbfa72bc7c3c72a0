package aigw

// ackRecorder notes which key fingerprints this service loaded and used, for
// rotation's evidence (spec: acknowledgements). Off when the config has no acks block.
type ackRecorder struct {
	on bool
}

func newAckRecorder(c *Client, cfg *Config) *ackRecorder {
	return &ackRecorder{on: cfg.Acks != nil}
}

func (a *ackRecorder) used(r *Route, fingerprint string) {}

func (a *ackRecorder) loaded(s *snapshot) {}

func (a *ackRecorder) stop() {}
