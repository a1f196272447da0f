package etcdtest

import (
	"context"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestStartKillRestart: data written before a SIGKILL is there after
// Restart, on the same endpoint; Stop twice is harmless.
func TestStartKillRestart(t *testing.T) {
	s := Start(t)
	eps := s.Endpoints()
	if len(eps) != 1 || !strings.HasPrefix(eps[0], "http://127.0.0.1:") {
		t.Fatalf("endpoints %v", eps)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cli, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.Put(ctx, "k", "v1"); err != nil {
		t.Fatal(err)
	}
	s.Kill()
	sctx, scancel := context.WithTimeout(ctx, 500*time.Millisecond)
	_, err = cli.Get(sctx, "k")
	scancel()
	if err == nil {
		t.Fatal("Get answered with etcd killed")
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if got := s.Endpoints(); got[0] != eps[0] {
		t.Fatalf("endpoint after restart %v, was %v", got, eps)
	}
	resp, err := cli.Get(ctx, "k")
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v1" {
		t.Fatalf("after restart: %v %v", resp, err)
	}
	s.Stop()
	s.Stop()
}

// TestTwoServers: two servers side by side get distinct ports and data.
func TestTwoServers(t *testing.T) {
	a, b := Start(t), Start(t)
	if a.Endpoints()[0] == b.Endpoints()[0] || a.Dir() == b.Dir() {
		t.Fatalf("shared endpoint or dir: %v %v", a.Endpoints(), b.Endpoints())
	}
}
