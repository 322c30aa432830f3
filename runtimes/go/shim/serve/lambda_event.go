package serve

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// The Lambda event of an invocation, built by the rules of runtimes/shared/lambda-event.mjs (the JS
// runtimes) and the Python shim: keep them in step. HTTP invocations get API Gateway's HTTP API
// event, payload format 2.0 (or 1.0 for handlers typed for it); event invocations (kumo-event-type)
// get their body as the event: its JSON, or the text as a JSON string, or null.

// textType lists the content types whose bodies travel as text.
var textType = regexp.MustCompile(`(?i)^(text/|application/(json|xml|javascript|x-www-form-urlencoded)|[^;]*\+(json|xml))`)

// EventFormat is an API Gateway payload format version: "2.0" (HTTP API) or "1.0" (REST proxy).
type EventFormat string

const (
	FormatV2 EventFormat = "2.0"
	FormatV1 EventFormat = "1.0"
)

// LambdaEvent is the JSON event of one invocation.
func LambdaEvent(r *http.Request, format EventFormat) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	if r.Header.Get("kumo-event-type") != "" {
		return eventPayload(body), nil
	}
	if format == FormatV1 {
		return json.Marshal(v1Event(r, body))
	}
	return json.Marshal(v2Event(r, body))
}

func eventPayload(body []byte) []byte {
	if len(body) == 0 {
		return []byte("null")
	}
	if json.Valid(body) {
		return body
	}
	text, _ := json.Marshal(string(body))
	return text
}

type httpParts struct {
	path, query, sourceIP, userAgent, host, id string
	headers                                    map[string]string
	multi                                      map[string][]string
	body                                       *string
	base64                                     bool
	epoch                                      time.Time
}

func requestParts(r *http.Request, body []byte) httpParts {
	p := httpParts{path: r.URL.Path, query: r.URL.RawQuery, host: r.Host, id: r.Header.Get("kumo-invocation-id"), epoch: time.Now()}
	if p.path == "" {
		p.path = "/"
	}
	p.headers = map[string]string{}
	p.multi = map[string][]string{}
	if r.Host != "" {
		p.headers["host"] = r.Host
		p.multi["host"] = []string{r.Host}
	}
	for name, values := range r.Header {
		lower := strings.ToLower(name)
		sep := ","
		if lower == "cookie" {
			sep = "; "
		}
		p.headers[lower] = strings.Join(values, sep)
		p.multi[lower] = append(p.multi[lower], values...)
	}
	p.sourceIP = strings.TrimSpace(strings.Split(p.headers["x-forwarded-for"], ",")[0])
	p.userAgent = p.headers["user-agent"]
	if len(body) > 0 {
		contentType := p.headers["content-type"]
		text := utf8.Valid(body)
		if contentType != "" {
			text = textType.MatchString(contentType)
		}
		encoded := string(body)
		if !text {
			encoded = base64.StdEncoding.EncodeToString(body)
		}
		p.body, p.base64 = &encoded, !text
	}
	return p
}

func clfTime(t time.Time) string { return t.UTC().Format("02/Jan/2006:15:04:05 +0000") }

func v2Event(r *http.Request, body []byte) map[string]any {
	p := requestParts(r, body)
	event := map[string]any{
		"version": "2.0", "routeKey": "$default", "rawPath": p.path, "rawQueryString": p.query,
		"headers": p.headers, "isBase64Encoded": p.base64,
		"requestContext": map[string]any{
			"domainName": stripPort(p.host),
			"http": map[string]any{
				"method": r.Method, "path": p.path, "protocol": "HTTP/1.1", "sourceIp": p.sourceIP, "userAgent": p.userAgent,
			},
			"requestId": p.id, "routeKey": "$default", "stage": "$default",
			"time": clfTime(p.epoch), "timeEpoch": p.epoch.UnixMilli(),
		},
	}
	if cookie := p.headers["cookie"]; cookie != "" {
		var cookies []string
		for _, c := range regexp.MustCompile(`;\s*`).Split(cookie, -1) {
			if c != "" {
				cookies = append(cookies, c)
			}
		}
		event["cookies"] = cookies
	}
	if params, _ := queryParameters(p.query); params != nil {
		event["queryStringParameters"] = params
	}
	if p.body != nil {
		event["body"] = *p.body
	}
	return event
}

// v1Event is the REST API proxy event ("/{proxy+}" resource) of API Gateway's payload format 1.0,
// with lower-case header names as HTTP APIs send it.
func v1Event(r *http.Request, body []byte) map[string]any {
	p := requestParts(r, body)
	last := map[string]string{}
	for name, values := range p.multi {
		last[name] = values[len(values)-1]
	}
	event := map[string]any{
		"resource": "/{proxy+}", "path": p.path, "httpMethod": r.Method,
		"headers": last, "multiValueHeaders": p.multi,
		"queryStringParameters": nil, "multiValueQueryStringParameters": nil,
		"pathParameters": map[string]string{"proxy": strings.TrimPrefix(p.path, "/")}, "stageVariables": nil,
		"requestContext": map[string]any{
			"resourcePath": "/{proxy+}", "httpMethod": r.Method, "path": p.path, "protocol": "HTTP/1.1",
			"requestId": p.id, "stage": "$default", "domainName": stripPort(p.host),
			"identity":         map[string]any{"sourceIp": p.sourceIP, "userAgent": p.userAgent},
			"requestTime":      clfTime(p.epoch),
			"requestTimeEpoch": p.epoch.UnixMilli(),
		},
		"body": nil, "isBase64Encoded": p.base64,
	}
	if _, multi := queryParameters(p.query); multi != nil {
		single := map[string]string{}
		for name, values := range multi {
			single[name] = values[len(values)-1]
		}
		event["queryStringParameters"], event["multiValueQueryStringParameters"] = single, multi
	}
	if p.body != nil {
		event["body"] = *p.body
	}
	return event
}

func stripPort(host string) string {
	return regexp.MustCompile(`:\d+$`).ReplaceAllString(host, "")
}

// queryParameters reads a query as URLSearchParams does: repeated names joined with commas (and as
// lists); nil when there are none.
func queryParameters(query string) (map[string]string, map[string][]string) {
	var joined map[string]string
	var multi map[string][]string
	for _, pair := range strings.Split(query, "&") {
		if pair == "" {
			continue
		}
		rawName, rawValue, _ := strings.Cut(pair, "=")
		name, value := decodeQueryPart(rawName), decodeQueryPart(rawValue)
		if joined == nil {
			joined, multi = map[string]string{}, map[string][]string{}
		}
		if previous, ok := joined[name]; ok {
			joined[name] = previous + "," + value
		} else {
			joined[name] = value
		}
		multi[name] = append(multi[name], value)
	}
	return joined, multi
}

// decodeQueryPart is form decoding: "+" is a space, %XX a byte; a malformed escape stays as written.
func decodeQueryPart(part string) string {
	var out []byte
	for i := 0; i < len(part); i++ {
		c := part[i]
		switch {
		case c == '+':
			out = append(out, ' ')
		case c == '%' && i+2 < len(part) && isHex(part[i+1]) && isHex(part[i+2]):
			out = append(out, unhex(part[i+1])<<4|unhex(part[i+2]))
			i += 2
		default:
			out = append(out, c)
		}
	}
	if !utf8.Valid(out) {
		return strings.ToValidUTF8(string(out), "\uFFFD")
	}
	return string(out)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
