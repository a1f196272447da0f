package remote

import (
	"sort"
	"sync/atomic"
)

// NodeMetric is what a router's Client counted for one storage node since
// it started: one row of the per-node metrics on /metrics. Every internal
// request the Client sends (writes, reads, admin) goes through
// Client.do, which counts Requests, Errors and the bytes.
type NodeMetric struct {
	// Node is the node's id and Addr its base URL.
	Node, Addr string
	// Requests is the number of internal requests sent to the node, and
	// Errors those that failed (no answer, or an answer other than 2xx).
	Requests, Errors uint64
	// BytesSent counts request bodies, BytesReceived response bodies.
	BytesSent, BytesReceived uint64
	// WriteRequests is the number of write requests (each carries one frame per
	// group), Fragments the number of query fragments (sessions) sent,
	// Catalogs the catalog calls, and Unprepared the reads a session had
	// not prepared and asked for in another round trip. Aggregates counts
	// the fragments the node aggregated itself (see fragment.go).
	WriteRequests, Fragments, Catalogs, Unprepared, Aggregates uint64
}

// nodeCounters are a NodeMetric's live counters.
type nodeCounters struct {
	requests, errors     atomic.Uint64
	bytesSent, bytesRecv atomic.Uint64
	writes, fragments    atomic.Uint64
	catalogs, unprepared atomic.Uint64
	aggregates           atomic.Uint64
}

func (c *nodeCounters) snapshot(node, addr string) NodeMetric {
	return NodeMetric{
		Node:          node,
		Addr:          addr,
		Requests:      c.requests.Load(),
		Errors:        c.errors.Load(),
		BytesSent:     c.bytesSent.Load(),
		BytesReceived: c.bytesRecv.Load(),
		WriteRequests: c.writes.Load(),
		Fragments:     c.fragments.Load(),
		Catalogs:      c.catalogs.Load(),
		Unprepared:    c.unprepared.Load(),
		Aggregates:    c.aggregates.Load(),
	}
}

// sortMetrics orders rows by node id, then address.
func sortMetrics(ms []NodeMetric) {
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].Node != ms[j].Node {
			return ms[i].Node < ms[j].Node
		}
		return ms[i].Addr < ms[j].Addr
	})
}

// ServerMetrics is what a storage node's Node counted since it started:
// the internal requests it served.
type ServerMetrics struct {
	// Writes is the number of write requests made durable, Points the
	// points they held, WriteErrors the write requests refused or failed
	// (stale epochs included), StaleEpochs those refused with 409.
	Writes, Points, WriteErrors, StaleEpochs uint64
	// BytesReceived counts request bodies, BytesSent response bodies.
	BytesReceived, BytesSent uint64
	// Fragments is the number of query fragments (sessions) served,
	// FragmentErrors those that failed, FragmentsCancelled those whose
	// work the router cancelled (a client that went away), and Catalogs
	// the catalog calls served. Aggregates counts the aggregate fragments
	// it computed (see fragment.go).
	Fragments, FragmentErrors, FragmentsCancelled, Catalogs, Aggregates uint64
	// FilteredRowsRead is the rows of raw selects the node read to filter
	// them itself (filter_proto.go), and FilteredRowsSent those of them
	// that satisfied the condition and were sent.
	FilteredRowsRead, FilteredRowsSent uint64
	// ReplicaReads is the sessions and catalog calls admitted for groups
	// this node is a replica of (consistency=any, or a failover).
	ReplicaReads uint64
	// SeriesRefused is the points of internal writes refused for beginning
	// new series over NodeOptions.NewSeriesPerMinute.
	SeriesRefused uint64
}

// serverCounters are ServerMetrics' live counters.
type serverCounters struct {
	writes, points, writeErrors, staleEpochs atomic.Uint64
	bytesRecv, bytesSent                     atomic.Uint64
	fragments, fragmentErrors                atomic.Uint64
	fragmentsCancelled, catalogs             atomic.Uint64
	aggregates                               atomic.Uint64
	rowsRead, rowsKept                       atomic.Uint64
	replicaReads                             atomic.Uint64
	seriesRefused                            atomic.Uint64
}

func (c *serverCounters) snapshot() ServerMetrics {
	return ServerMetrics{
		Writes:             c.writes.Load(),
		Points:             c.points.Load(),
		WriteErrors:        c.writeErrors.Load(),
		StaleEpochs:        c.staleEpochs.Load(),
		BytesReceived:      c.bytesRecv.Load(),
		BytesSent:          c.bytesSent.Load(),
		Fragments:          c.fragments.Load(),
		FragmentErrors:     c.fragmentErrors.Load(),
		FragmentsCancelled: c.fragmentsCancelled.Load(),
		Catalogs:           c.catalogs.Load(),
		Aggregates:         c.aggregates.Load(),
		FilteredRowsRead:   c.rowsRead.Load(),
		FilteredRowsSent:   c.rowsKept.Load(),
		ReplicaReads:       c.replicaReads.Load(),
		SeriesRefused:      c.seriesRefused.Load(),
	}
}
