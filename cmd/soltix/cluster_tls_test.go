package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/internal/etcdtest"
	"github.com/soltixdb/soltix/internal/testcert"
	"go.yaml.in/yaml/v3"
)

// TestClusterTLSConfig checks the cluster.tls keys, flags and variables,
// and what a storage node advertises with them.
func TestClusterTLSConfig(t *testing.T) {
	base := []string{"--etcd", "http://127.0.0.1:2379", "--listen", "127.0.0.1:0"}
	node := append([]string{"--node-id", "n1", "--data-dir", "/tmp/x"}, base...)
	files := []string{"--cluster-tls-cert", "c.pem", "--cluster-tls-key", "k.pem", "--cluster-tls-ca", "ca.pem"}
	for _, tc := range []struct {
		name    string
		role    string
		args    []string
		env     map[string]string
		wantErr string
		want    ClusterTLSConfig
	}{
		{name: "none", role: "router", args: base},
		{name: "router flags", role: "router", args: append(files, base...), want: ClusterTLSConfig{"c.pem", "k.pem", "ca.pem"}},
		{name: "storage flags", role: "storage", args: append(files, node...), want: ClusterTLSConfig{"c.pem", "k.pem", "ca.pem"}},
		{name: "env", role: "storage", args: node, env: map[string]string{"SOLTIX_CLUSTER_TLS_CERT_FILE": "c.pem",
			"SOLTIX_CLUSTER_TLS_KEY_FILE": "k.pem", "SOLTIX_CLUSTER_TLS_CA_FILE": "ca.pem"}, want: ClusterTLSConfig{"c.pem", "k.pem", "ca.pem"}},
		{name: "no ca", role: "router", args: append(files[:4:4], base...), wantErr: "set all three or none"},
		{name: "ca only", role: "storage", args: append(files[4:], node...), wantErr: "set all three or none"},
		{name: "http advertised with tls", role: "storage", args: append(append(files, "--advertise", "http://n1:7001"), node...),
			wantErr: "advertise an https URL"},
		{name: "https advertised without tls", role: "storage", args: append([]string{"--advertise", "https://n1:7001"}, node...),
			wantErr: "advertise an http URL or set cluster.tls"},
		{name: "https advertised with tls", role: "storage", args: append(append(files, "--advertise", "https://n1:7001"), node...),
			want: ClusterTLSConfig{"c.pem", "k.pem", "ca.pem"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadRoleConfig(tc.role, tc.args, func(k string) string { return tc.env[k] })
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one with %q", err, tc.wantErr)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if cfg.Cluster.TLS != tc.want {
				t.Errorf("cluster.tls = %+v, want %+v", cfg.Cluster.TLS, tc.want)
			}
		})
	}
}

// TestRolesMutualTLS runs a cluster with mutual TLS on its internal
// traffic over a real etcd: nodes register https URLs; writes and queries
// through the router work; a second node joining receives groups copied
// over mutual TLS and answers for them; a node's internal listener refuses
// a client without a certificate, with one of another CA, and cleartext
// HTTP; a router without cluster.tls fails its requests at once with a
// logged error naming the setting.
func TestRolesMutualTLS(t *testing.T) {
	etcd := etcdtest.Start(t)
	dir := t.TempDir()
	ca := testcert.NewCA(t, "cluster ca", filepath.Join(dir, "ca.pem"))
	leaf := func(name string) []string {
		cert, key := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
		ca.Leaf(t, name, cert, key)
		return []string{"--cluster-tls-cert", cert, "--cluster-tls-key", key, "--cluster-tls-ca", ca.File}
	}
	// Node a reads cluster.tls from its config file, the others from flags.
	ca.Leaf(t, "a", filepath.Join(dir, "a.pem"), filepath.Join(dir, "a-key.pem"))
	cfgPath := filepath.Join(dir, "a.yaml")
	yaml := fmt.Sprintf("cluster:\n  tls:\n    cert_file: %s\n    key_file: %s\n    ca_file: %s\n",
		filepath.Join(dir, "a.pem"), filepath.Join(dir, "a-key.pem"), ca.File)
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	common := []string{"--etcd", etcd.ClientURL()}
	nodeA := startRole(t, "storage", append([]string{"--config", cfgPath, "--node-id", "a", "--listen", "127.0.0.1:0", "--data-dir", dir + "/a"}, common...)...)
	if !strings.HasPrefix(nodeA, "https://") {
		t.Fatalf("node a serves on %s, want https", nodeA)
	}
	router := startRole(t, "router", append(append([]string{"--listen", "127.0.0.1:0"}, leaf("router")...), common...)...)

	waitCluster := func(what string, ok func(body string) bool) string {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			code, body := request(t, http.MethodGet, router+"/api/v1/cluster", "")
			if code == http.StatusOK && ok(body) {
				return body
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET /api/v1/cluster: %d %s, want %s", code, body, what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	body := waitCluster("16 groups ok on node a", func(b string) bool { return strings.Count(b, `"state":"ok"`) == 16 })
	if !strings.Contains(body, `"addr":"https://127.0.0.1:`) {
		t.Errorf("node a is not registered with an https URL: %s", body)
	}

	writeQuery := func(from, n, want int) {
		t.Helper()
		var lp strings.Builder
		for d := from; d < from+n; d++ {
			fmt.Fprintf(&lp, "m,device_id=d%d v=2 1767225600000000000\n", d)
		}
		if code, body := request(t, http.MethodPost, router+"/api/v1/write", lp.String()); code != http.StatusNoContent {
			t.Fatalf("write through the router: %d %s", code, body)
		}
		q := router + "/api/v1/query?q=" + url.QueryEscape("SELECT count(v) FROM m")
		if code, body := request(t, http.MethodGet, q, ""); code != http.StatusOK || !strings.Contains(body, fmt.Sprintf(",%d]]", want)) {
			t.Fatalf("query through the router: %d %s, want count %d", code, body, want)
		}
	}
	writeQuery(0, 40, 40)

	// Node b joins: the coordinator moves groups to it, which b pulls from
	// a over mutual TLS; the router then reads them from b.
	startRole(t, "storage", append(append([]string{"--node-id", "b", "--listen", "127.0.0.1:0", "--data-dir", dir + "/b"}, leaf("b")...), common...)...)
	waitCluster("groups moved to node b, none moving", func(b string) bool {
		return strings.Count(b, `"state":"ok"`) == 16 && strings.Contains(b, `"primary":"b"`) && strings.Count(b, `"state":"up"`) == 2
	})
	writeQuery(40, 40, 80)

	// The node's internal listener: a certificate of the cluster's CA
	// gets in; none, another CA's, or cleartext HTTP do not.
	trust := x509.NewCertPool()
	trust.AddCert(ca.Cert)
	client := func(certs ...tls.Certificate) *http.Client {
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: trust, Certificates: certs, MinVersion: tls.VersionTLS12}}}
	}
	pair := func(cert, key string) tls.Certificate {
		c, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	other := testcert.NewCA(t, "other ca", filepath.Join(dir, "other-ca.pem"))
	other.Leaf(t, "stranger", filepath.Join(dir, "stranger.pem"), filepath.Join(dir, "stranger-key.pem"))
	stranger := pair(filepath.Join(dir, "stranger.pem"), filepath.Join(dir, "stranger-key.pem"))
	foreign := client()
	foreign.Transport.(*http.Transport).TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return &stranger, nil
	}
	sql := url.QueryEscape("SELECT count(v) FROM m")
	for _, tc := range []struct {
		name string
		c    *http.Client
		path string
		want int // the status; 0 for a refused handshake
	}{
		{"certificate of the cluster's CA", client(pair(filepath.Join(dir, "router.pem"), filepath.Join(dir, "router-key.pem"))), "/metrics", http.StatusOK},
		{"no certificate", client(), "/metrics", http.StatusForbidden},
		{"no certificate, query", client(), "/internal/v1/query?q=" + sql, http.StatusForbidden},
		{"no certificate, the probes", client(), "/ready", http.StatusOK},
		{"another CA's certificate", foreign, "/metrics", 0},
		{"cleartext http", &http.Client{Timeout: 10 * time.Second}, "/metrics", http.StatusBadRequest},
	} {
		u := nodeA + tc.path
		if tc.name == "cleartext http" {
			u = "http://" + strings.TrimPrefix(u, "https://")
		}
		resp, err := tc.c.Get(u)
		var code int
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			code = resp.StatusCode
		}
		if code != tc.want {
			t.Errorf("%s: GET %s: status %d, err %v; want status %d", tc.name, u, code, err, tc.want)
		}
	}

	// A router without cluster.tls: refused at once, logged.
	plain, logs := startRoleLogs(t, "router", append([]string{"--listen", "127.0.0.1:0"}, common...)...)
	q := plain + "/api/v1/query?q=" + url.QueryEscape("SELECT count(v) FROM m")
	if code, body := request(t, http.MethodGet, q, ""); code != http.StatusServiceUnavailable || !strings.Contains(body, "cluster tls mismatch") {
		t.Errorf("query through a router without cluster.tls: %d %s, want 503 naming the cluster tls mismatch", code, body)
	}
	if l := logs.String(); !strings.Contains(l, "has no cluster.tls settings") {
		t.Errorf("the router without cluster.tls does not log the mismatch of a query:\n%s", l)
	}
	if code, body := request(t, http.MethodPost, plain+"/api/v1/write", "m,device_id=x v=1 1767225600000000000\n"); code != http.StatusServiceUnavailable || !strings.Contains(body, "cluster tls mismatch") {
		t.Errorf("write through a router without cluster.tls: %d %s, want 503 naming the cluster tls mismatch", code, body)
	}
	writeQuery(80, 1, 81) // the plain router's write reached no node
}

// TestKubernetesClusterTLS checks the commented mutual TLS of
// deploy/kubernetes: uncommented, configmap.yaml's cluster.tls names the
// files of the Secret storage.yaml and router.yaml mount, and the roles
// accept it, a storage node with an https advertise URL only.
func TestKubernetesClusterTLS(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(k8sDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	cm := read("configmap.yaml")
	uncommented := strings.NewReplacer("      # tls:", "      tls:", "      #   ", "        ").Replace(cm)
	if uncommented == cm {
		t.Fatal("configmap.yaml has no commented cluster.tls")
	}
	var o k8sObject
	if err := yaml.Unmarshal([]byte(uncommented), &o); err != nil {
		t.Fatalf("configmap.yaml with cluster.tls uncommented: %v", err)
	}
	conf := filepath.Join(t.TempDir(), "soltix.yaml")
	if err := os.WriteFile(conf, []byte(o.Data["soltix.yaml"]), 0o644); err != nil {
		t.Fatal(err)
	}
	want := ClusterTLSConfig{"/etc/soltix/cluster/tls.crt", "/etc/soltix/cluster/tls.key", "/etc/soltix/cluster/ca.crt"}
	node := []string{"--config", conf, "--node-id", "soltix-storage-0", "--listen", "0.0.0.0:7000", "--data-dir", "/data"}
	for _, tc := range []struct {
		role    string
		args    []string
		wantErr string
	}{
		{"router", []string{"--config", conf, "--listen", "0.0.0.0:5050"}, ""},
		{"storage", append(node, "--advertise=https://soltix-storage-0.soltix-storage.default.svc.cluster.local:7000"), ""},
		{"storage", append(node, "--advertise=http://soltix-storage-0.soltix-storage.default.svc.cluster.local:7000"), "advertise an https URL"},
	} {
		cfg, err := loadRoleConfig(tc.role, tc.args, func(string) string { return "" })
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("soltix %s %q: %v, want an error with %q", tc.role, tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil || cfg.Cluster.TLS != want {
			t.Errorf("soltix %s %q: cluster.tls %+v, %v; want %+v", tc.role, tc.args, cfg.Cluster.TLS, err, want)
		}
	}
	for _, f := range []string{"storage.yaml", "router.yaml"} {
		s := read(f)
		for _, line := range []string{"# - {name: cluster-tls, mountPath: /etc/soltix/cluster, readOnly: true}", "#   secret: {secretName: soltix-cluster-tls}"} {
			if !strings.Contains(s, line) {
				t.Errorf("%s does not show how to mount the cluster's certificates: no %q", f, line)
			}
		}
	}
}
