package query

import (
	"strconv"
	"strings"
	"sync"
	"time"
)

func init() {
	// Kept out of the literal in parse.go, whose alignment they would change.
	expectedNames["GTZ"] = "TZ('Area/City')"
	expectedNames["GGroupOffset"] = "an offset such as 15m"
}

// zones caches the locations LoadZone has loaded, by name.
var zones sync.Map // string → *time.Location

// LoadZone returns the time zone of a TZ('Area/City') clause: an IANA name
// that time.LoadLocation knows (the binary carries the tz database, so
// this does not depend on the machine). "" and "Local" are refused: a
// query's meaning must not depend on the server's settings.
func LoadZone(name string) (*time.Location, error) {
	if v, ok := zones.Load(name); ok {
		return v.(*time.Location), nil
	}
	if name == "" || strings.EqualFold(name, "local") {
		return nil, errUnknownZone(name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, errUnknownZone(name)
	}
	zones.Store(name, loc)
	return loc, nil
}

type zoneError string

func (e zoneError) Error() string {
	return "unknown time zone " + strconv.Quote(string(e)) + " (want an IANA name such as 'Europe/Paris' or 'UTC')"
}

func errUnknownZone(name string) error { return zoneError(name) }

// tz checks the TZ clause, written after GROUP BY/FILL (mid) or, as
// InfluxQL does, at the end of the statement (end), and sets sel.TZ.
func (p *parser) tz(sel *Select, mid, end *gTZ) error {
	g := mid
	if end != nil {
		if mid != nil {
			return p.errAt(end.Pos, p.text(end.Pos, "TZ"), "more than one TZ clause")
		}
		g = end
	}
	if g == nil {
		return nil
	}
	zone := unquoteString(*g.Zone)
	if _, err := LoadZone(zone); err != nil {
		return p.errAt(g.Pos, p.text(g.Pos, "TZ"), "%s", err.Error())
	}
	sel.TZ, sel.TZPos = zone, p.pos(g.Pos)
	return nil
}
