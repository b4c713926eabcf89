// Package awsquery writes the error answer of AWS's query protocol (form in,
// XML out), which the stack's IAM and STS emulators share with the real
// services: <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>.
package awsquery

import (
	"encoding/xml"
	"net/http"
)

type errorResponse struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Error   struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
	RequestID string `xml:"RequestId"`
}

// WriteError answers with status and an ErrorResponse in namespace xmlns.
// The fault type is Receiver for a 5xx status, Sender otherwise, as AWS
// reports them.
func WriteError(w http.ResponseWriter, status int, xmlns, code, message, requestID string) {
	resp := errorResponse{Xmlns: xmlns, RequestID: requestID}
	resp.Error.Type, resp.Error.Code, resp.Error.Message = "Sender", code, message
	if status >= 500 {
		resp.Error.Type = "Receiver"
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_ = xml.NewEncoder(w).Encode(resp)
}
