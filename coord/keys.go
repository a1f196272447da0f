package coord

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The key layout under /soltix/<cluster>/ (docs/cluster.md "Key layout in
// etcd" is the user-facing copy of this list):
//
//	info                 clusterInfo JSON; created once, never changed
//	nodes/<id>           nodeValue JSON under the node's lease (up while present)
//	members/<id>         nodeValue JSON, no lease (the last address a node registered)
//	groups/<NNNN>        groupValue JSON (absent: the group is unassigned)
//	settings/<coll>      opaque bytes (cmd stores storage.CollectionSettings as JSON)
//	tokens/<name>        TokenRecord JSON: an API token's digest, scopes, collections
//	coordinator/<lease>  the election's candidates (concurrency.Election)
const (
	keyInfo        = "info"
	dirNodes       = "nodes/"
	dirMembers     = "members/"
	dirGroups      = "groups/"
	dirSettings    = "settings/"
	dirTokens      = "tokens/"
	electionPrefix = "coordinator" // concurrency appends "/<lease hex>"
)

// formatVersion is the version of this layout, stored in the info key.
const formatVersion = 1

// clusterInfo is the value of the info key.
type clusterInfo struct {
	Version           int    `json:"version"`
	NumGroups         int    `json:"num_groups"`
	ReplicationFactor int    `json:"replication_factor"`
	ShardTag          string `json:"shard_tag"`
}

// nodeValue is the value of nodes/<id> and members/<id>.
type nodeValue struct {
	ID   string `json:"id"`
	Addr string `json:"addr"`
}

// groupValue is the value of groups/<NNNN>; the group's number is its key.
type groupValue struct {
	Primary  string   `json:"primary,omitempty"`
	Replicas []string `json:"replicas,omitempty"`
	Epoch    uint64   `json:"epoch"`
	State    string   `json:"state,omitempty"`
	MovingTo string   `json:"moving_to,omitempty"`
}

// groupKey is the key suffix of group g: four digits at least, so groups
// list in order in etcdctl.
func groupKey(g int) string { return fmt.Sprintf("%s%04d", dirGroups, g) }

// parseGroupKey returns the group number of a key suffix after "groups/".
func parseGroupKey(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, false
		}
	}
	g, err := strconv.Atoi(s)
	return g, err == nil
}

func decodeInfo(b []byte) (Info, error) {
	var ci clusterInfo
	if err := json.Unmarshal(b, &ci); err != nil {
		return Info{}, fmt.Errorf("cluster info: %w", err)
	}
	if ci.Version != formatVersion {
		return Info{}, fmt.Errorf("cluster info: layout version %d, this build knows %d", ci.Version, formatVersion)
	}
	in := Info{NumGroups: ci.NumGroups, ReplicationFactor: ci.ReplicationFactor, ShardTag: ci.ShardTag}
	if err := in.validate(); err != nil {
		return Info{}, fmt.Errorf("cluster info: %w", err)
	}
	return in, nil
}

func encodeInfo(in Info) []byte {
	b, _ := json.Marshal(clusterInfo{Version: formatVersion, NumGroups: in.NumGroups,
		ReplicationFactor: in.ReplicationFactor, ShardTag: in.ShardTag})
	return b
}

func decodeNode(b []byte) (nodeValue, error) {
	var n nodeValue
	if err := json.Unmarshal(b, &n); err != nil {
		return nodeValue{}, fmt.Errorf("node: %w", err)
	}
	if err := validNodeID(n.ID); err != nil {
		return nodeValue{}, err
	}
	return n, nil
}

func encodeNode(n nodeValue) []byte {
	b, _ := json.Marshal(n)
	return b
}

// decodeGroup decodes the value of group g's key and checks it.
func decodeGroup(g int, b []byte) (Group, error) {
	var v groupValue
	if err := json.Unmarshal(b, &v); err != nil {
		return Group{}, fmt.Errorf("group %d: %w", g, err)
	}
	gr := Group{ID: g, Primary: v.Primary, Replicas: v.Replicas, Epoch: v.Epoch, State: v.State, MovingTo: v.MovingTo}
	if err := gr.validate(); err != nil {
		return Group{}, err
	}
	return gr, nil
}

func encodeGroup(gr Group) []byte {
	b, _ := json.Marshal(groupValue{Primary: gr.Primary, Replicas: gr.Replicas, Epoch: gr.Epoch,
		State: gr.State, MovingTo: gr.MovingTo})
	return b
}

// validate checks the invariants every stored group keeps.
func (g Group) validate() error {
	switch {
	case g.Primary == "" && (len(g.Replicas) > 0 || g.State != "" || g.MovingTo != ""):
		return fmt.Errorf("group %d: replicas or state without a primary", g.ID)
	case g.State != "" && g.State != StateMoving:
		return fmt.Errorf("group %d: unknown state %q", g.ID, g.State)
	case (g.State == StateMoving) != (g.MovingTo != ""):
		return fmt.Errorf("group %d: moving_to must be set exactly when moving", g.ID)
	case g.MovingTo != "" && g.MovingTo == g.Primary:
		return fmt.Errorf("group %d: moving to its own primary %q", g.ID, g.Primary)
	}
	for i, r := range g.Replicas {
		if r == "" || r == g.Primary || slices.Contains(g.Replicas[:i], r) {
			return fmt.Errorf("group %d: replicas %v must be distinct nodes other than the primary", g.ID, g.Replicas)
		}
	}
	return nil
}

// validNodeID accepts 1-64 characters of [A-Za-z0-9._-]: a node id is part
// of a key and of file names.
func validNodeID(id string) error {
	if err := validName(id); err != nil {
		return fmt.Errorf("node id %q: %w", id, err)
	}
	return nil
}

var errName = errors.New("want 1-64 characters of A-Z a-z 0-9 . _ -")

func validName(s string) error {
	if s == "" || len(s) > 64 || s == "." || s == ".." {
		return errName
	}
	if strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')
	}) >= 0 {
		return errName
	}
	return nil
}
