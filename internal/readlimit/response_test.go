package readlimit

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestResponsesBoundsBodies(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := map[string]int{"/small": 10, "/exact": 64, "/endless": 1 << 20}[r.URL.Path]
		if r.URL.Query().Get("length") == "" {
			w.Header().Set("Transfer-Encoding", "chunked") // no Content-Length: read until the limit
		}
		w.Write([]byte(strings.Repeat("x", n))) //nolint:errcheck
	}))
	defer srv.Close()
	client := &http.Client{Transport: Responses(http.DefaultTransport, 64, "test answers")}
	for path, wantErr := range map[string]bool{"/small": false, "/exact": false, "/endless": true, "/endless?length=1": true} {
		resp, err := client.Get(srv.URL + path)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if got := errors.Is(err, ErrTooLarge); got != wantErr {
			t.Errorf("%s: err %v; want ErrTooLarge %v", path, err, wantErr)
		}
	}
}
