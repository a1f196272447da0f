package replication

import (
	"fmt"
	"strconv"
	"strings"
)

// A cluster name or node id (coord's names: 1 to 64 of A-Z a-z 0-9 . _ -)
// becomes a NATS token by escaping: '_' is written "_u" and '.' "_p", so
// that distinct names stay distinct and no token holds a '.'.
func token(name string) string {
	if !strings.ContainsAny(name, "._") {
		return name
	}
	var b strings.Builder
	for _, r := range name {
		switch r {
		case '_':
			b.WriteString("_u")
		case '.':
			b.WriteString("_p")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// streamName is the name of the cluster's stream.
func streamName(cluster string) string { return "SOLTIX_" + token(cluster) }

// subjectPrefix is what every subject of the cluster's stream starts with.
func subjectPrefix(cluster string) string { return "soltix." + token(cluster) + ".repl" }

// groupSubject is group g's subject.
func groupSubject(cluster string, g int) string {
	return fmt.Sprintf("%s.g%04d", subjectPrefix(cluster), g)
}

// consumerName is the durable consumer of node's copy of group g, in the
// cluster's stream (so the cluster need not be in it).
func consumerName(node string, g int) string {
	return "r_" + token(node) + "_g" + strconv.Itoa(g)
}

// checkName reports whether s can be a cluster name or node id: what coord
// accepts, 1 to 64 of A-Z a-z 0-9 '.' '_' '-'.
func checkName(what, s string) error {
	if s == "" || len(s) > 64 {
		return fmt.Errorf("replication: %s %q must be 1 to 64 characters", what, s)
	}
	for _, r := range s {
		ok := r == '-' || r == '_' || r == '.' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !ok {
			return fmt.Errorf("replication: %s %q may hold only letters, digits, '.', '-' and '_'", what, s)
		}
	}
	return nil
}
