package main

import (
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The original Soltix design wrote its config.yaml with other keys
// (server.port, storage.data_dir, wal.rotation_size, metadata.etcd_urls,
// ...). A config file may use them: takeDesignKeys takes them out of the
// file before the strict decoding of our keys, sets what each means on the
// Config, and keeps a designNote for each, which logDesignNotes tells at
// start-up: the key we mapped it to, or why it cannot be honoured.
// docs/config-compat.md lists them side by side.

// designNote is what became of one key of the design's config file.
type designNote struct {
	// Key is the design's key, like "wal.rotation_size".
	Key string
	// To is our key it was mapped to ("" when refused).
	To string
	// Refused says why the key cannot be honoured ("" when mapped).
	Refused string
}

// designSections are the design's sections that are not ours; storage is
// both, and only its design keys are taken.
var designSections = []string{"server", "wal", "aggregation", "metadata", "message_bus", "compression"}

// designStorageKeys are the design's keys of the storage section.
var designStorageKeys = []string{"data_dir", "retention_days"}

// ourRollupLevels are the rollup levels Soltix keeps, in the names the
// design's aggregation.levels may use for them.
var ourRollupLevels = map[string]string{
	"1h": "1h", "hour": "1h", "hourly": "1h",
	"1d": "1d", "day": "1d", "daily": "1d",
	"1M": "1M", "month": "1M", "monthly": "1M",
	"1y": "1y", "year": "1y", "yearly": "1y",
}

// takeDesignKeys removes the design's keys from doc, a YAML document,
// sets what they mean on c and records a designNote for each. It reports
// whether it found any. A design key set together with ours for the same
// thing, a key of a design section the design did not have, or a value of
// the wrong type is an error naming the key.
func (c *Config) takeDesignKeys(doc *yaml.Node) (bool, error) {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return false, nil // not a mapping: the strict decoding says what is wrong
	}
	root := doc.Content[0]
	ours := map[string]bool{} // our keys set in the file, as "data_dir", "storage.wal_segment_bytes"
	found := false
	var keep []*yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch {
		case slices.Contains(designSections, k.Value):
			if v.Kind != yaml.MappingNode {
				return found, fmt.Errorf("line %d: %s: want a mapping of the design's keys", k.Line, k.Value)
			}
			for j := 0; j+1 < len(v.Content); j += 2 {
				if err := c.designKey(k.Value+"."+v.Content[j].Value, v.Content[j+1]); err != nil {
					return found, fmt.Errorf("line %d: %s.%s: %w", v.Content[j].Line, k.Value, v.Content[j].Value, err)
				}
			}
			found = true
			continue
		case k.Value == "storage" && v.Kind == yaml.MappingNode:
			var rest []*yaml.Node
			for j := 0; j+1 < len(v.Content); j += 2 {
				sk, sv := v.Content[j], v.Content[j+1]
				if !slices.Contains(designStorageKeys, sk.Value) {
					ours["storage."+sk.Value] = true
					rest = append(rest, sk, sv)
					continue
				}
				if err := c.designKey("storage."+sk.Value, sv); err != nil {
					return found, fmt.Errorf("line %d: storage.%s: %w", sk.Line, sk.Value, err)
				}
				found = true
			}
			v.Content = rest
		case k.Value == "cluster" && v.Kind == yaml.MappingNode:
			for j := 0; j < len(v.Content); j += 2 {
				ours["cluster."+v.Content[j].Value] = true
			}
		}
		ours[k.Value] = true
		keep = append(keep, k, v)
	}
	root.Content = keep
	for _, n := range c.design {
		if n.To == "" {
			continue
		}
		// Ours is set for the key mapped to or for a section holding it
		// (storage.defaults for storage.defaults.rollups).
		to := strings.SplitN(n.To, ":", 2)[0]
		for k := to; ; {
			if ours[k] {
				return found, fmt.Errorf("%s and %s are both set: keep one", n.Key, k)
			}
			i := strings.LastIndexByte(k, '.')
			if i < 0 || !strings.Contains(k[:i], ".") {
				break // not a whole section of ours, such as storage
			}
			k = k[:i]
		}
	}
	return found, nil
}

// designKey sets on c what the design's key means, and records its note.
func (c *Config) designKey(key string, v *yaml.Node) error {
	note := designNote{Key: key}
	switch key {
	case "server.port", "server.http_port":
		var port uint16
		if err := v.Decode(&port); err != nil {
			return fmt.Errorf("want a port number: %w", err)
		}
		host, _, err := net.SplitHostPort(c.Listen)
		if err != nil {
			host = "127.0.0.1"
		}
		c.Listen = net.JoinHostPort(host, strconv.Itoa(int(port)))
		note.To = "listen"
	case "server.host":
		var host string
		if err := v.Decode(&host); err != nil {
			return err
		}
		_, port, err := net.SplitHostPort(c.Listen)
		if err != nil {
			port = "5050"
		}
		c.Listen = net.JoinHostPort(host, port)
		note.To = "listen"
	case "server.grpc_port", "server.grpc_host":
		note.Refused = "Soltix has no gRPC: its API, and the cluster's traffic between routers and storage nodes, is HTTP/1.1 and HTTP/2 (h2c, or h2 over TLS) on the one port of server.port"
	case "storage.data_dir":
		if err := v.Decode(&c.DataDir); err != nil {
			return err
		}
		note.To = "data_dir"
	case "storage.retention_days":
		var days int
		if err := v.Decode(&days); err != nil || days < 0 {
			return fmt.Errorf("want a number of days")
		}
		if days == 0 {
			note.To = "storage.defaults.retention.raw: forever (the default)"
			break
		}
		if c.Storage.Defaults.Retention == nil {
			c.Storage.Defaults.Retention = map[string]string{}
		}
		c.Storage.Defaults.Retention["raw"] = fmt.Sprintf("%dd", days)
		c.designDefaults = true
		note.To = fmt.Sprintf("storage.defaults.retention.raw: %dd", days)
	case "wal.enabled":
		var on bool
		if err := v.Decode(&on); err != nil {
			return err
		}
		if on {
			note.To = "(always on)"
			break
		}
		note.Refused = "Soltix always keeps a WAL: a write is acknowledged once its WAL holds it, which is what makes a crash lose nothing; storage.wal_sync: never skips the fsync instead (a crash then loses recent writes)"
	case "wal.rotation_size":
		n, err := parseSize(v.Value)
		if v.Kind != yaml.ScalarNode || err != nil || n <= 0 {
			return fmt.Errorf("want a size such as 64MiB or 67108864")
		}
		c.Storage.WALSegmentBytes = n
		note.To = "storage.wal_segment_bytes"
	case "wal.rotation_time":
		var d Duration
		if err := v.Decode(&d); err != nil || d <= 0 {
			return fmt.Errorf("want a positive duration such as 15m")
		}
		c.Storage.WALSegmentAge = d
		note.To = "storage.wal_segment_age"
	case "aggregation.enabled":
		var on bool
		if err := v.Decode(&on); err != nil {
			return err
		}
		if on {
			note.To = "storage.defaults.rollups: true (the default)"
			break
		}
		c.Storage.Defaults.Rollups = &on
		c.designDefaults = true
		note.To = "storage.defaults.rollups: false"
	case "aggregation.levels":
		var levels []string
		if err := v.Decode(&levels); err != nil {
			return fmt.Errorf("want a list of levels: %w", err)
		}
		var unknown, kept []string
		got := map[string]bool{}
		for _, l := range levels {
			if o, ok := ourRollupLevels[l]; ok {
				got[o] = true
			} else {
				unknown = append(unknown, l)
			}
		}
		for _, o := range []string{"1h", "1d", "1M", "1y"} {
			if !got[o] {
				kept = append(kept, o)
			}
		}
		switch {
		case len(unknown) > 0:
			note.Refused = fmt.Sprintf("Soltix rolls up by 1h, 1d, 1M and 1y, not by %s: other intervals (GROUP BY time(5m), say) are computed at query time from the finest level that divides them", strings.Join(unknown, ", "))
		case len(kept) > 0:
			note.Refused = fmt.Sprintf("Soltix keeps every rollup level, %s too: they are small, and a collection keeps fewer with collections.<name>.retention", strings.Join(kept, ", "))
		default:
			note.To = "(the rollup levels 1h, 1d, 1M, 1y)"
		}
	case "metadata.etcd_urls":
		urls, err := decodeList(v)
		if err != nil {
			return err
		}
		c.Cluster.Etcd = urls
		note.To = "cluster.etcd"
	case "message_bus.nats_url":
		urls, err := decodeList(v)
		if err != nil {
			return err
		}
		c.Cluster.NATS = urls
		note.To = "cluster.nats"
	case "compression.method":
		var m string
		if err := v.Decode(&m); err != nil {
			return err
		}
		if strings.EqualFold(m, "snappy") {
			note.To = "(the file format's snappy blocks)"
			break
		}
		note.Refused = fmt.Sprintf("the file format fixes its compression: per-type encodings (delta-of-delta, XOR, dictionaries) then snappy blocks (docs/format.md), not %q", m)
	default:
		return fmt.Errorf("not a key of the Soltix design's config file (docs/config-compat.md lists them)")
	}
	c.design = append(c.design, note)
	return nil
}

// decodeList decodes a URL or a list of URLs.
func decodeList(v *yaml.Node) ([]string, error) {
	if v.Kind == yaml.ScalarNode {
		return splitList(v.Value), nil
	}
	var l []string
	if err := v.Decode(&l); err != nil {
		return nil, fmt.Errorf("want a URL or a list of URLs: %w", err)
	}
	return l, nil
}

// logDesignNotes tells at start-up what became of the design's keys of
// the config file: the key each was mapped to (info), or why it cannot be
// honoured (warning). role is serve, storage or router.
func (c *Config) logDesignNotes(role string, log *slog.Logger) {
	for _, n := range c.design {
		refused := n.Refused
		if refused == "" && n.Key == "metadata.etcd_urls" && role == "serve" {
			refused = "soltix serve is one node and keeps its metadata in its data directory; etcd is for soltix storage and soltix router (cluster.etcd)"
		}
		if refused == "" && strings.HasPrefix(n.To, "storage.defaults.") && !strings.HasSuffix(n.To, "(the default)") && role != "serve" {
			refused = "a cluster keeps collection settings in etcd, for every node alike, not a default per node: set them for each collection through a router (PUT /api/v1/collections/NAME/settings, or collections.NAME in the router's config file)"
		}
		if refused != "" {
			log.Warn("config key of the Soltix design not honoured", "key", n.Key, "why", refused)
			continue
		}
		log.Info("config key of the Soltix design mapped", "key", n.Key, "to", n.To)
	}
}
