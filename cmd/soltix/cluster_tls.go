package main

// Mutual TLS on a cluster's internal traffic (cluster.tls): the keys, and
// the remote.ClusterTLS the storage and router roles build from them.

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"

	"github.com/soltixdb/soltix/httpapi"
	"github.com/soltixdb/soltix/remote"
)

// ClusterTLSConfig turns on mutual TLS between routers and storage nodes
// and between storage nodes: all three files or none. Each file is read
// again when it changes.
type ClusterTLSConfig struct {
	// CertFile and KeyFile are this process's certificate and key, which
	// it serves (a storage node) and presents as a client (both roles).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// CAFile holds the certificate authority (or authorities) that signs
	// every node's and router's certificate: peers are verified against
	// it.
	CAFile string `yaml:"ca_file"`
}

// on reports whether mutual TLS is configured.
func (t *ClusterTLSConfig) on() bool { return t.CertFile != "" }

func (t *ClusterTLSConfig) validate() error {
	set := 0
	for _, f := range []string{t.CertFile, t.KeyFile, t.CAFile} {
		if f != "" {
			set++
		}
	}
	if set != 0 && set != 3 {
		return errors.New("cluster.tls.cert_file, key_file and ca_file go together: set all three or none")
	}
	return nil
}

// env applies the SOLTIX_CLUSTER_TLS_* variables.
func (t *ClusterTLSConfig) env(getenv func(string) string) {
	for _, e := range []struct {
		name string
		dst  *string
	}{
		{"SOLTIX_CLUSTER_TLS_CERT_FILE", &t.CertFile},
		{"SOLTIX_CLUSTER_TLS_KEY_FILE", &t.KeyFile},
		{"SOLTIX_CLUSTER_TLS_CA_FILE", &t.CAFile},
	} {
		if v := getenv(e.name); v != "" {
			*e.dst = v
		}
	}
}

// clusterTLS loads the cluster's mutual TLS; nil without cluster.tls.
func (c *Config) clusterTLS(log *slog.Logger) (*remote.ClusterTLS, error) {
	t := c.Cluster.TLS
	if !t.on() {
		return nil, nil
	}
	rl, err := httpapi.NewMutualReloader(t.CertFile, t.KeyFile, t.CAFile, log)
	if err != nil {
		return nil, fmt.Errorf("cluster.tls: %w", err)
	}
	return &remote.ClusterTLS{Server: rl.MutualServerConfig(tls.VerifyClientCertIfGiven), Client: rl.MutualClientConfig}, nil
}

// internalScheme is the scheme of a storage node's internal API.
func (c *Config) internalScheme() string {
	if c.Cluster.TLS.on() {
		return "https"
	}
	return "http"
}

// checkAdvertiseScheme refuses a node.advertise whose scheme is not the
// one the node serves: routers would speak the other protocol to it.
func (c *Config) checkAdvertiseScheme() error {
	if c.Node.Advertise == "" {
		return nil
	}
	u, err := url.Parse(c.Node.Advertise)
	if err != nil {
		return fmt.Errorf("node.advertise: %w", err)
	}
	if want := c.internalScheme(); u.Scheme != want {
		if want == "https" {
			return fmt.Errorf("node.advertise %q: with cluster.tls the node serves https; advertise an https URL", c.Node.Advertise)
		}
		return fmt.Errorf("node.advertise %q: without cluster.tls the node serves cleartext http; advertise an http URL or set cluster.tls", c.Node.Advertise)
	}
	return nil
}
