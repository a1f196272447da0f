// Package soltix is the root of the Soltix time-series database module. It
// only carries the embedded OpenAPI description of the HTTP API; the
// database lives in the subpackages (storage, planner, query, lineproto,
// httpapi) and the server binary in cmd/soltix, which passes OpenAPI to
// httpapi.Options so that GET /openapi.yaml serves it.
package soltix

import _ "embed"

// OpenAPI is the OpenAPI 3.1 description of the HTTP API (openapi.yaml).
//
//go:embed openapi.yaml
var OpenAPI []byte
