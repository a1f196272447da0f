package main

// Backups in the cluster. A storage node serves the backup routes of
// serve (POST /api/v1/admin/backup?groups=..., the files, the release) on
// its internal listener, for the groups its map names it the primary of.
// A router serves the same routes on its external listener and passes
// each on to the storage node it names: the start names it with node=ID,
// and the router answers the snapshot's id as "ID.<node's id>", so the
// file and release requests carry it. soltix backup --server ROUTER reads
// the map from GET /api/v1/cluster and takes each node's primary groups
// through the router (docs/backup.md).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/soltixdb/soltix/backup"
	"github.com/soltixdb/soltix/coord"
	"github.com/soltixdb/soltix/httpapi"
	"github.com/soltixdb/soltix/remote"
)

// backupPath is the route a backup starts at; its files and release are
// below backupPath + "/".
const backupPath = "/api/v1/admin/backup"

// newBackups returns the node's backup sessions: only groups the map
// names this node the primary of may be backed up here.
func (n *storageNode) newBackups() *backup.Sessions {
	return backup.NewSessions(n.db, backup.Options{Logger: n.log, Owns: func(g int) error {
		info, ok := n.view.Group(g)
		if !ok || info.Primary != n.cfg.Node.ID {
			// The map may have moved on since the router read it.
			if err := n.view.Refresh(); err != nil {
				return fmt.Errorf("refresh the cluster map: %w", err)
			}
			info, ok = n.view.Group(g)
		}
		if !ok || info.Primary != n.cfg.Node.ID {
			return fmt.Errorf("node %s is not the group's primary (the map names %q at epoch %d): %w",
				n.cfg.Node.ID, info.Primary, info.Epoch, backup.ErrNotOwner)
		}
		return nil
	}})
}

// backupRoutes serves the backup routes on the internal listener, without
// tokens (like the rest of the internal API: routers authenticate).
func (n *storageNode) backupRoutes(mux *http.ServeMux) {
	h := httpapi.New(n.db, httpapi.Options{Backup: n.backups, Logger: n.log, Version: buildVersion(),
		MaxBodyBytes: n.cfg.HTTP.MaxBodyBytes})
	mux.Handle("POST "+backupPath, h)
	mux.Handle(backupPath+"/", h)
}

// backupProxy is a router's backup routes: each request is passed on to
// the storage node it names.
type backupProxy struct {
	view   *coord.View
	client *http.Client
	log    *slog.Logger
}

// newBackupProxy returns the router's backup routes over the map of view.
// Its client is the cluster's internal one (h2c, or h2 over mutual TLS).
func newBackupProxy(view *coord.View, ctls *remote.ClusterTLS, log *slog.Logger) *backupProxy {
	return &backupProxy{view: view, client: remote.NewInternalClient(ctls, 0), log: log}
}

// proxyError answers a request the router cannot pass on.
func proxyError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg}) //nolint:errcheck // the client went away
}

func (p *backupProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var node, target string
	if r.URL.Path == backupPath {
		q := r.URL.Query()
		node = q.Get("node")
		if node == "" {
			proxyError(w, http.StatusBadRequest, "backup: a router backs up one storage node at a time: give node=ID (soltix backup --server ROUTER does)")
			return
		}
		q.Del("node")
		target = backupPath + "?" + q.Encode()
	} else {
		rest := strings.TrimPrefix(r.URL.Path, backupPath+"/")
		id, tail, _ := strings.Cut(rest, "/")
		i := strings.LastIndexByte(id, '.')
		if i <= 0 {
			proxyError(w, http.StatusNotFound, fmt.Sprintf("backup: no such backup %q (a router's ids are NODE.ID)", id))
			return
		}
		node, id = id[:i], id[i+1:]
		target = backupPath + "/" + url.PathEscape(id)
		if tail != "" {
			target += "/" + tail
		}
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
	}
	addr, ok := p.nodeAddr(node)
	if !ok {
		proxyError(w, http.StatusServiceUnavailable, fmt.Sprintf("backup: storage node %q is not up", node))
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, addr+target, nil)
	if err != nil {
		proxyError(w, http.StatusBadRequest, "backup: "+err.Error())
		return
	}
	resp, err := p.client.Do(req)
	if err != nil {
		proxyError(w, http.StatusBadGateway, fmt.Sprintf("backup: storage node %s (%s): %v", node, addr, err))
		return
	}
	defer resp.Body.Close()
	if r.URL.Path == backupPath && resp.StatusCode == http.StatusOK {
		p.answerStart(w, r, node, resp)
		return
	}
	for _, h := range []string{"Content-Type", "Content-Length", "X-Soltix-Crc32c", "Retry-After"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	if _, err := io.Copy(w, resp.Body); err != nil {
		p.log.WarnContext(r.Context(), "backup: pass on a storage node's answer", "node", node, "err", err)
	}
}

// answerStart answers a node's manifest with its id prefixed by the
// node's.
func (p *backupProxy) answerStart(w http.ResponseWriter, r *http.Request, node string, resp *http.Response) {
	var man backup.Manifest
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&man); err != nil {
		proxyError(w, http.StatusBadGateway, fmt.Sprintf("backup: storage node %s: bad manifest: %v", node, err))
		return
	}
	man.ID = node + "." + man.ID
	b, err := json.Marshal(&man)
	if err != nil {
		proxyError(w, http.StatusInternalServerError, "backup: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(append(b, '\n')); err != nil {
		p.log.WarnContext(r.Context(), "backup: answer", "node", node, "err", err)
	}
}

// nodeAddr returns the internal API's URL of an up node.
func (p *backupProxy) nodeAddr(node string) (string, bool) {
	for _, n := range p.view.Map().Nodes {
		if n.ID == node && n.Up && n.Addr != "" {
			return strings.TrimRight(n.Addr, "/"), true
		}
	}
	return "", false
}

// readClusterMap reads GET /api/v1/cluster of base; ok is false when the
// server is no router (404).
func readClusterMap(ctx context.Context, client *http.Client, base string) (st httpapi.ClusterStatus, ok bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/api/v1/cluster", nil)
	if err != nil {
		return st, false, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return st, false, fmt.Errorf("read the cluster map: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return st, false, fmt.Errorf("read the cluster map: %w", err)
	}
	switch resp.StatusCode {
	case http.StatusNotFound:
		return st, false, nil
	case http.StatusOK:
	default:
		return st, false, fmt.Errorf("read the cluster map: HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, false, fmt.Errorf("read the cluster map: %w", err)
	}
	return st, true, nil
}

// primaryGroups returns the groups the map of the router at base names
// node the primary of (the node may be down: it is being restored).
func primaryGroups(ctx context.Context, client *http.Client, base, node string) ([]int, error) {
	st, ok, err := readClusterMap(ctx, client, base)
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, fmt.Errorf("%s is no router (GET /api/v1/cluster answers 404)", base)
	}
	var groups []int
	for _, g := range st.Groups {
		if g.Primary == node {
			groups = append(groups, g.ID)
		}
	}
	if len(groups) == 0 {
		return nil, fmt.Errorf("the cluster map names node %q the primary of no group", node)
	}
	slices.Sort(groups)
	return groups, nil
}

// clusterPlan asks the server at base for its cluster map (GET
// /api/v1/cluster): nil, nil when it is no router (serve answers 404),
// else the nodes to back up through it, each with the groups it is the
// primary of (only those of groups, when not nil), and the map recorded
// in the manifest. A group without a primary, or whose primary is down,
// fails it.
func clusterPlan(ctx context.Context, client *http.Client, base string, groups []int) ([]backup.Node, *backup.Cluster, error) {
	st, ok, err := readClusterMap(ctx, client, base)
	switch {
	case err != nil:
		return nil, nil, err
	case !ok && groups != nil:
		return nil, nil, errors.New("--groups needs a router: the server is a single node")
	case !ok:
		return nil, nil, nil
	}
	up := make(map[string]bool)
	for _, n := range st.Nodes {
		up[n.ID] = n.State == httpapi.NodeUp
	}
	for _, g := range groups {
		if g >= st.NumGroups {
			return nil, nil, fmt.Errorf("group %d: the cluster has %d groups", g, st.NumGroups)
		}
	}
	byNode := make(map[string][]int)
	cl := &backup.Cluster{}
	for _, g := range st.Groups {
		if groups != nil && !slices.Contains(groups, g.ID) {
			continue
		}
		switch {
		case g.Primary == "":
			return nil, nil, fmt.Errorf("group %d has no primary", g.ID)
		case !up[g.Primary]:
			return nil, nil, fmt.Errorf("group %d: its primary %s is down", g.ID, g.Primary)
		}
		byNode[g.Primary] = append(byNode[g.Primary], g.ID)
		cl.Groups = append(cl.Groups, backup.ClusterGroup{Group: g.ID, Primary: g.Primary, Epoch: g.Epoch})
	}
	if len(cl.Groups) == 0 {
		return nil, nil, errors.New("the cluster map lists none of the groups asked for")
	}
	var nodes []backup.Node
	for id, gs := range byNode {
		slices.Sort(gs)
		nodes = append(nodes, backup.Node{Base: base, Groups: gs, Router: id})
	}
	slices.SortFunc(nodes, func(a, b backup.Node) int { return strings.Compare(a.Router, b.Router) })
	slices.SortFunc(cl.Groups, func(a, b backup.ClusterGroup) int { return a.Group - b.Group })
	return nodes, cl, nil
}
