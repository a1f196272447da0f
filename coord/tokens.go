package coord

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// TokenRecord is an API token as etcd stores it (tokens/<name>): its
// SHA-256 digest, never the token itself. Scopes are opaque to coord
// (cmd/soltix checks them); coord checks the name and the digest's form.
type TokenRecord struct {
	Name string `json:"name"`
	// SHA256 is the token's SHA-256 digest in 64 lowercase hex digits.
	SHA256      string   `json:"sha256"`
	Scopes      []string `json:"scopes"`
	Collections []string `json:"collections,omitempty"`
}

// ErrTokenExists is PutToken's answer for a name already stored.
var ErrTokenExists = errors.New("coord: a token with this name exists")

// ErrTokenLast is DeleteTokenKeeping's answer when the removal would leave
// no token that the caller's predicate says must remain.
var ErrTokenLast = errors.New("coord: the token is the last of those that must remain")

func (r TokenRecord) validate() error {
	if err := validName(r.Name); err != nil {
		return fmt.Errorf("token name %q: %w", r.Name, err)
	}
	if b, err := hex.DecodeString(r.SHA256); err != nil || len(b) != 32 || hex.EncodeToString(b) != r.SHA256 {
		return fmt.Errorf("token %q: sha256: want 64 lowercase hex digits", r.Name)
	}
	if len(r.Scopes) == 0 {
		return fmt.Errorf("token %q: no scopes", r.Name)
	}
	return nil
}

func decodeToken(name string, b []byte) (TokenRecord, error) {
	var r TokenRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return TokenRecord{}, fmt.Errorf("token %q: %w", name, err)
	}
	if r.Name != name {
		return TokenRecord{}, fmt.Errorf("token %q: value names %q", name, r.Name)
	}
	return r, r.validate()
}

// PutToken stores a new token (tokens/<name>) if no token of that name
// exists, else it returns ErrTokenExists: adding is a create, so two
// processes adding the same name cannot overwrite each other.
func (c *Coord) PutToken(ctx context.Context, r TokenRecord) error {
	if err := r.validate(); err != nil {
		return fmt.Errorf("coord: %w", err)
	}
	b, _ := json.Marshal(r)
	key := c.pfx + dirTokens + r.Name
	resp, err := c.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(b))).
		Commit()
	if err != nil {
		return fmt.Errorf("coord: token %q: %w", r.Name, err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("%w: %q", ErrTokenExists, r.Name)
	}
	return nil
}

// DeleteToken removes the token named name and says whether it existed.
func (c *Coord) DeleteToken(ctx context.Context, name string) (bool, error) {
	if err := validName(name); err != nil {
		return false, fmt.Errorf("coord: token name %q: %w", name, err)
	}
	resp, err := c.cli.Delete(ctx, c.pfx+dirTokens+name)
	if err != nil {
		return false, fmt.Errorf("coord: token %q: %w", name, err)
	}
	return resp.Deleted > 0, nil
}

// DeleteTokenKeeping removes the token named name unless that would leave
// no other stored token for which keep is true: then it returns
// ErrTokenLast and removes nothing. It says whether the token existed.
//
// The check and the removal are one etcd transaction: it deletes the key
// only if the token and every remaining token that keep counts are
// unchanged since they were read (their mod revisions), so two processes
// removing the last two such tokens at the same time cannot both succeed:
// the second transaction fails its comparison, reads again and is refused.
func (c *Coord) DeleteTokenKeeping(ctx context.Context, name string, keep func(TokenRecord) bool) (bool, error) {
	if err := validName(name); err != nil {
		return false, fmt.Errorf("coord: token name %q: %w", name, err)
	}
	dir := c.pfx + dirTokens
	key := dir + name
	for first := true; ; first = false {
		resp, err := c.cli.Get(ctx, dir, clientv3.WithPrefix())
		if err != nil {
			return false, fmt.Errorf("coord: token %q: %w", name, err)
		}
		var self int64 // the token's mod revision; 0 when absent
		var conds []clientv3.Cmp
		for _, kv := range resp.Kvs {
			k := string(kv.Key)
			if k == key {
				self = kv.ModRevision
				continue
			}
			r, err := decodeToken(k[len(dir):], kv.Value)
			if err != nil || !keep(r) {
				continue
			}
			conds = append(conds, clientv3.Compare(clientv3.ModRevision(k), "=", kv.ModRevision))
		}
		if self == 0 {
			return false, nil
		}
		if len(conds) == 0 {
			return false, fmt.Errorf("%w: %q", ErrTokenLast, name)
		}
		if first && c.tokenTxnHook != nil {
			c.tokenTxnHook()
		}
		conds = append(conds, clientv3.Compare(clientv3.ModRevision(key), "=", self))
		tr, err := c.cli.Txn(ctx).If(conds...).Then(clientv3.OpDelete(key)).Commit()
		if err != nil {
			return false, fmt.Errorf("coord: token %q: %w", name, err)
		}
		if tr.Succeeded {
			return true, nil
		}
		// Something read changed in between: read again.
	}
}

// Tokens returns the tokens the view holds, sorted by name; values that do
// not decode are left out (and logged when seen).
func (c *Coord) Tokens() []TokenRecord { return c.view.Tokens() }

// Tokens is Coord.Tokens.
func (v *View) Tokens() []TokenRecord {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.tokenRecords(v.tokens, false)
}

// tokenRecords decodes the raw token values; log says whether to log the
// bad ones.
func (v *View) tokenRecords(raw map[string][]byte, log bool) []TokenRecord {
	out := make([]TokenRecord, 0, len(raw))
	for _, name := range slices.Sorted(maps.Keys(raw)) {
		r, err := decodeToken(name, raw[name])
		if err != nil {
			if log {
				v.c.log.Error("coord: ignoring a bad token key", "name", name, "err", err)
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// OnTokens calls fn with every stored token: once soon after the call,
// then after each change seen in etcd, in the manner of OnSettings (one
// call at a time, from one goroutine). The returned func stops the calls.
func (c *Coord) OnTokens(fn func([]TokenRecord)) (stop func()) {
	return c.view.subscribe(&settingsSub{tokens: true, fn: func(raw map[string][]byte) { fn(c.view.tokenRecords(raw, true)) }})
}
