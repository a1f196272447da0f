package remote

import (
	"net/http"
	"time"
)

// NewServer returns an http.Server for a storage node's internal API on
// addr: cleartext HTTP/2 (what a router's Client speaks) and HTTP/1.1 (for
// curl). It sets header and idle timeouts but no write timeout, so that
// long query streams are bounded by their request's deadline instead.
func NewServer(addr string, h http.Handler) *http.Server {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		Protocols:         &p,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: 1000,
			SendPingTimeout:      15 * time.Second,
			PingTimeout:          10 * time.Second,
			// Write bodies are megabytes: windows wider than the
			// default keep a loopback or LAN stream from stalling.
			MaxReceiveBufferPerConnection: 16 << 20,
			MaxReceiveBufferPerStream:     8 << 20,
		},
	}
}
