module github.com/soltixdb/soltix

go 1.26

require (
	github.com/alecthomas/participle/v2 v2.1.4
	github.com/chromedp/cdproto v0.159.0
	github.com/chromedp/chromedp v0.23.0
	github.com/go-chi/chi/v5 v5.5.0
	github.com/golang/snappy v1.0.0
	github.com/valyala/fastjson v1.6.10
	go.yaml.in/yaml/v3 v3.0.6
)

require github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
