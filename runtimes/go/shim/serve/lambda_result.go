package serve

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// WriteLambdaResult answers with a Lambda handler's JSON result by the rules of
// runtimes/shared/lambda-result.mjs: an object with statusCode is an API Gateway response
// (statusCode, headers, multiValueHeaders, cookies, body, isBase64Encoded); a string is 200 text; null
// is 204; any other value 200 JSON. An error names what is wrong with the result (the caller makes it
// the invocation's FN_004).
func WriteLambdaResult(w http.ResponseWriter, result []byte) error {
	result = bytes.TrimSpace(result)
	var value any
	decoder := json.NewDecoder(bytes.NewReader(result))
	decoder.UseNumber()
	if len(result) > 0 {
		if err := decoder.Decode(&value); err != nil {
			return fmt.Errorf("the handler's result is not JSON: %w", err)
		}
	}
	switch v := value.(type) {
	case nil:
		w.WriteHeader(http.StatusNoContent)
		return nil
	case string:
		w.Header().Set("content-type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, err := w.Write([]byte(v))
		return err
	case map[string]any:
		if _, ok := v["statusCode"]; ok {
			return writeResultObject(w, v)
		}
	}
	w.Header().Set("content-type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(result)
	return err
}

var threeDigits = regexp.MustCompile(`^[0-9]{3}$`)

func lambdaStatus(raw any) (int, error) {
	shown := fmt.Sprint(raw)
	switch v := raw.(type) {
	case nil:
		return 200, nil
	case json.Number:
		if n, err := strconv.Atoi(v.String()); err == nil && n >= 200 && n <= 599 {
			return n, nil
		}
	case string:
		if threeDigits.MatchString(v) {
			if n, _ := strconv.Atoi(v); n >= 200 && n <= 599 {
				return n, nil
			}
		}
		shown = strconv.Quote(v)
	}
	return 0, fmt.Errorf("statusCode %s is not a response status: it must be an integer from 200 to 599", shown)
}

func headerText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	text, _ := json.Marshal(v)
	return string(text)
}

func writeResultObject(w http.ResponseWriter, v map[string]any) error {
	status, err := lambdaStatus(v["statusCode"])
	if err != nil {
		return err
	}
	header := w.Header()
	if headers, ok := v["headers"].(map[string]any); ok {
		for name, value := range headers {
			if value != nil {
				header.Add(name, headerText(value))
			}
		}
	}
	if multi, ok := v["multiValueHeaders"].(map[string]any); ok {
		for name, list := range multi {
			values, isList := list.([]any)
			if !isList {
				values = []any{list}
			}
			for _, value := range values {
				if value != nil {
					header.Add(name, headerText(value))
				}
			}
		}
	}
	if cookies, ok := v["cookies"].([]any); ok {
		for _, c := range cookies {
			header.Add("set-cookie", headerText(c))
		}
	}
	var body []byte
	switch b := v["body"].(type) {
	case nil:
	case string:
		body = []byte(b)
		if encoded, _ := v["isBase64Encoded"].(bool); encoded {
			decoded, err := base64.StdEncoding.DecodeString(stripSpace(b))
			if err != nil {
				decoded, err = base64.RawStdEncoding.DecodeString(stripSpace(b))
			}
			if err != nil {
				return fmt.Errorf("the result's body is not base64, but isBase64Encoded is true")
			}
			body = decoded
		}
	default:
		body, _ = json.Marshal(b)
		if header.Get("content-type") == "" {
			header.Set("content-type", "application/json")
		}
	}
	if _, set := header["Content-Type"]; !set {
		header["Content-Type"] = nil // as in the JS runtimes: no content type unless the result sets one (no sniffing)
	}
	w.WriteHeader(status)
	_, err = w.Write(body)
	return err
}

func stripSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\n' || r == '\f' || r == '\r' {
			return -1
		}
		return r
	}, s)
}
