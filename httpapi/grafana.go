package httpapi

import "github.com/go-chi/chi/v5"

// grafanaRoutes serves the Grafana JSON datasource under /grafana/.
func (s *server) grafanaRoutes(r chi.Router) {}
