package remote

// Analytics through the router: like the transformations they run as an
// inner SELECT over the same source, so TestDifferential checks that a
// router answers them as a single DB does.
var analyticsDiffQueries = []string{
	"SELECT downsample(f, 50) FROM m WHERE time >= '2024-02-09T00:00:00Z' AND time < '2024-02-12T00:00:00Z' GROUP BY device_id",
	"SELECT downsample(i, 20, 'm4') FROM m WHERE device_id IN ('d01', 'd02')",
	"SELECT downsample(mean(f), 10, 'minmax') FROM m GROUP BY time(1d), region",
	"SELECT anomalies(f, 'zscore', 2) FROM m WHERE time >= '2024-02-10T00:00:00Z' AND time < '2024-02-11T00:00:00Z'",
	"SELECT anomalies(i, 'iqr') FROM m GROUP BY region",
	"SELECT anomalies(max(f), 'mad', 2) FROM m GROUP BY time(1d)",
	"SELECT forecast(mean(f), 5) FROM m WHERE time >= '2024-02-09T00:00:00Z' AND time < '2024-02-12T00:00:00Z' GROUP BY time(6h), region",
	"SELECT forecast(sum(i), 3, 'holt_winters', 4) FROM m WHERE time >= '2024-02-01T00:00:00Z' AND time < '2024-02-12T00:00:00Z' GROUP BY time(6h)",
	"SELECT forecast(f, 3) FROM m",
}

func init() { diffQueries = append(diffQueries, analyticsDiffQueries...) }
