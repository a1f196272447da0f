package remote

// Transformations and selectors through the router: they run as an inner
// SELECT over the same source, so TestDifferential checks them like the
// other queries (the same rows and stats as a single DB).
var fnDiffQueries = []string{
	"SELECT derivative(mean(f), 1h) FROM m WHERE time >= '2024-02-09T00:00:00Z' AND time < '2024-02-12T00:00:00Z' GROUP BY time(1h), region",
	"SELECT difference(max(i)), cumulative_sum(count(f)) FROM m GROUP BY time(30d)",
	"SELECT non_negative_derivative(i, 1s) FROM m WHERE device_id = 'd03' AND time >= '2024-02-09T00:00:00Z' AND time < '2024-02-12T00:00:00Z'",
	"SELECT moving_average(f, 5), elapsed(f, 1s) FROM m WHERE time >= '2024-02-10T00:00:00Z' AND time < '2024-02-10T06:00:00Z' GROUP BY device_id LIMIT 20",
	"SELECT rate(i, 1m) FROM m WHERE device_id IN ('d01', 'd07') AND time < '2024-03-01T00:00:00Z' GROUP BY device_id",
	"SELECT top(f, 3) FROM m WHERE time >= '2024-02-10T00:00:00Z' AND time < '2024-02-11T00:00:00Z' GROUP BY time(6h)",
	"SELECT bottom(i, 2) FROM m GROUP BY region",
	"SELECT median(f), mode(i) FROM m GROUP BY time(1y), region",
	"SELECT distinct(region) FROM m",
	"SELECT distinct(s) FROM m GROUP BY time(1y)",
	"SELECT sample(f, 4) FROM m WHERE device_id = 'd02' GROUP BY time(30d)",
	"SELECT integral(f, 1h) FROM m WHERE time >= '2024-02-09T00:00:00Z' AND time < '2024-02-12T00:00:00Z' GROUP BY time(1d), region",
	"EXPLAIN SELECT top(f, 3) FROM m WHERE device_id = 'd04'",
	"SELECT derivative(s) FROM m",
}

func init() { diffQueries = append(diffQueries, fnDiffQueries...) }
