package httpapi

import (
	"encoding/json"

	"github.com/soltixdb/soltix/storage"
)

// quarantineReporter is implemented by stores that move damaged files
// aside at start-up (storage.DB); /ready and /metrics report them.
type quarantineReporter interface {
	Quarantined() []storage.QuarantinedFile
}

// quarantined returns the store's quarantined files (none when it does
// not report any).
func (s *server) quarantined() []storage.QuarantinedFile {
	if qr, ok := s.store.(quarantineReporter); ok {
		return qr.Quarantined()
	}
	return nil
}

// readyBody is the /ready answer of a node with quarantined files: it
// serves, so the status is 200, but "degraded" while some query fails
// because of one of them (a rollup file being rebuilt fails none).
func readyBody(q []storage.QuarantinedFile) []byte {
	b, _ := json.Marshal(struct {
		Status      string                    `json:"status"`
		Quarantined []storage.QuarantinedFile `json:"quarantined"`
	}{readyStatus(q), q})
	return b
}

// readyStatus is "degraded" while some query fails because of a quarantined
// file, else "ready".
func readyStatus(q []storage.QuarantinedFile) string {
	for _, f := range q {
		if !f.Rebuilding {
			return "degraded"
		}
	}
	return "ready"
}
