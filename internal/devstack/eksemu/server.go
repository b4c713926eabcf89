package eksemu

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/iammap/iammap/internal/devstack/awscreds"
)

// apiError is an EKS error as sent on the wire.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func errInvalidParameter(format string, a ...any) *apiError {
	return &apiError{http.StatusBadRequest, "InvalidParameterException", fmt.Sprintf(format, a...)}
}

var (
	errEntryNotFound = &apiError{http.StatusNotFound, "ResourceNotFoundException", "The specified principalArn could not be found. You can view your available access entries with 'list-access-entries'."}
	errEntryInUse    = &apiError{http.StatusConflict, "ResourceInUseException", "The specified access entry resource is already in use on this cluster."}
	errNeedsAPIMode  = &apiError{http.StatusBadRequest, "InvalidRequestException", "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation."}
	errThrottled     = &apiError{http.StatusTooManyRequests, "ThrottlingException", "Rate exceeded"}
	errStandardOnly  = errInvalidParameter(`This operation can only be performed on Access Entries with a type of "STANDARD".`)
	errPrincipalFmt  = errInvalidParameter("The principalArn parameter format is not valid")
	errBadPrincipal  = errInvalidParameter("The specified principalArn is invalid: invalid principal.")
)

func errClusterNotFound(name string) *apiError {
	return &apiError{http.StatusNotFound, "ResourceNotFoundException", "No cluster found for name: " + name + "."}
}

// maxBody bounds a request body read for its signature.
const maxBody = 1 << 20

// checkCaller is the opt-in caller check (Options.Credentials): a valid
// signature by a registered key, and for a cluster's operations a caller
// of the emulator's account. The body is read for the signature and put
// back for the operation.
func (s *Server) checkCaller(r *http.Request) error {
	if s.opts.Credentials == nil {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return errInvalidParameter("reading the request body: %v", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	key, err := s.opts.Credentials.Verify(r.Context(), r, body, awscreds.Scope{Service: "eks", Regions: []string{s.opts.Region}}, time.Now())
	if err != nil {
		return authError(err)
	}
	// EKS resolves a cluster name in the caller's account: another
	// account's cluster of that name does not exist for them.
	if name := r.PathValue("name"); name != "" && key.Account() != s.opts.AccountID {
		return errClusterNotFound(name)
	}
	return nil
}

// authError is EKS's answer to a refused signature or key (403, as the
// service's front end gives them, without a cluster name).
func authError(err error) *apiError {
	var e *awscreds.Error
	if !errors.As(err, &e) {
		return &apiError{http.StatusInternalServerError, "ServerException", err.Error()}
	}
	code := map[error]string{
		awscreds.ErrMissingAuth:  "MissingAuthenticationTokenException",
		awscreds.ErrIncomplete:   "IncompleteSignatureException",
		awscreds.ErrUnknownKey:   "UnrecognizedClientException",
		awscreds.ErrExpiredToken: "ExpiredTokenException",
		awscreds.ErrSignature:    "InvalidSignatureException",
	}[e.Kind]
	msg := e.Message
	if e.Kind == awscreds.ErrMissingAuth {
		msg = "Missing Authentication Token" // EKS's words, not STS's
	}
	return &apiError{http.StatusForbidden, code, msg}
}

// authCodes are the codes of refused callers, answered without a cluster
// name: the request was refused before any cluster was looked at.
var authCodes = map[string]bool{
	"MissingAuthenticationTokenException": true, "IncompleteSignatureException": true, "UnrecognizedClientException": true,
	"ExpiredTokenException": true, "InvalidSignatureException": true,
}

// handler is one operation: it returns the response body or an error.
type handler func(r *http.Request) (any, error)

// ServeHTTP routes a request to its operation.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.routes.ServeHTTP(w, r)
}

func (s *Server) mux() *http.ServeMux {
	m := http.NewServeMux()
	route := func(pattern, op string, h handler) {
		m.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, op, h) })
	}
	route("GET /clusters/{name}", "DescribeCluster", s.describeCluster)
	route("POST /clusters/{name}/update-config", "UpdateClusterConfig", s.updateClusterConfig)
	route("GET /clusters/{name}/updates/{updateId}", "DescribeUpdate", s.describeUpdate)
	route("POST /clusters/{name}/access-entries", "CreateAccessEntry", s.createAccessEntry)
	route("GET /clusters/{name}/access-entries", "ListAccessEntries", s.listAccessEntries)
	route("GET /clusters/{name}/access-entries/{principalArn}", "DescribeAccessEntry", s.describeAccessEntry)
	route("POST /clusters/{name}/access-entries/{principalArn}", "UpdateAccessEntry", s.updateAccessEntry)
	route("DELETE /clusters/{name}/access-entries/{principalArn}", "DeleteAccessEntry", s.deleteAccessEntry)
	route("POST /clusters/{name}/access-entries/{principalArn}/access-policies", "AssociateAccessPolicy", s.associateAccessPolicy)
	route("GET /clusters/{name}/access-entries/{principalArn}/access-policies", "ListAssociatedAccessPolicies", s.listAssociatedAccessPolicies)
	route("DELETE /clusters/{name}/access-entries/{principalArn}/access-policies/{policyArn}", "DisassociateAccessPolicy", s.disassociateAccessPolicy)
	route("GET /access-policies", "ListAccessPolicies", s.listAccessPolicies)
	route("GET /cluster-versions", "DescribeClusterVersions", s.describeClusterVersions)
	return m
}

// ThrottledCalls is the Calls key counting requests answered with
// ThrottlingException.
const ThrottledCalls = "(throttled)"

func (s *Server) serve(w http.ResponseWriter, r *http.Request, op string, h handler) {
	s.count(op)
	w.Header().Set("x-amzn-RequestId", uuid())
	latency, throttleRate := s.faults()
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}
	var body any
	err := s.checkCaller(r)
	switch {
	case err != nil: // a refused caller, answered below
	case throttleRate > 0 && s.rng() < throttleRate:
		err = errThrottled
		s.count(ThrottledCalls)
	default:
		// One request at a time: the state is small and the calls are quick.
		s.mu.Lock()
		body, err = h(r)
		s.mu.Unlock()
	}
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		ae, ok := err.(*apiError)
		if !ok {
			ae = &apiError{http.StatusInternalServerError, "ServerException", err.Error()}
		}
		w.Header().Set("x-amzn-ErrorType", ae.code)
		w.WriteHeader(ae.status)
		payload := map[string]string{"message": ae.message}
		if name := r.PathValue("name"); name != "" && !authCodes[ae.code] {
			payload["clusterName"] = name
		}
		_ = json.NewEncoder(w).Encode(payload)
		return
	}
	_ = json.NewEncoder(w).Encode(body)
}

// epoch renders a time as the service does: seconds as a JSON number.
type epoch time.Time

func (t epoch) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatFloat(float64(time.Time(t).UnixMilli())/1000, 'f', 3, 64)), nil
}

func decodeBody(r *http.Request, v any) error {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		return errInvalidParameter("request body is not valid JSON: %v", err)
	}
	return nil
}

// lookup returns the named cluster with its pending update applied; the
// caller holds s.mu.
func (s *Server) lookup(r *http.Request) (*cluster, error) {
	c, ok := s.clusters[r.PathValue("name")]
	if !ok {
		return nil, errClusterNotFound(r.PathValue("name"))
	}
	s.settle(c)
	return c, nil
}

// entryAPI looks up a cluster that accepts access-entry operations.
func (s *Server) entryAPI(r *http.Request) (*cluster, error) {
	c, err := s.lookup(r)
	if err != nil {
		return nil, err
	}
	if c.mode == ModeConfigMap {
		return nil, errNeedsAPIMode
	}
	return c, nil
}

func (s *Server) describeCluster(r *http.Request) (any, error) {
	c, err := s.lookup(r)
	if err != nil {
		return nil, err
	}
	status := "ACTIVE"
	if c.pending != nil {
		status = "UPDATING"
	}
	if c.spec.Status != "" {
		status = c.spec.Status
	}
	return map[string]any{"cluster": map[string]any{
		"name": c.spec.Name, "arn": c.arn, "createdAt": epoch(c.createdAt), "version": c.spec.Version,
		"endpoint": c.spec.Endpoint, "status": status,
		"certificateAuthority": map[string]string{"data": c.spec.CAData},
		"accessConfig":         map[string]any{"authenticationMode": c.mode, "bootstrapClusterCreatorAdminPermissions": c.spec.CreatorARN != ""},
		"tags":                 map[string]string{},
	}}, nil
}

func updateJSON(u *update) map[string]any {
	mode, _ := json.Marshal(u.mode)
	return map[string]any{
		"id": u.id, "status": u.status, "type": "AccessConfigUpdate", "createdAt": epoch(u.createdAt),
		"params": []map[string]string{{"type": "AuthenticationMode", "value": string(mode)}},
		"errors": []any{},
	}
}

// allowedModeChanges is the one-way path EKS allows.
var allowedModeChanges = map[string]string{ModeConfigMap: ModeAPIAndConfigMap, ModeAPIAndConfigMap: ModeAPI}

func (s *Server) updateClusterConfig(r *http.Request) (any, error) {
	var in struct {
		AccessConfig *struct {
			AuthenticationMode string `json:"authenticationMode"`
		} `json:"accessConfig"`
		ClientRequestToken string `json:"clientRequestToken"`
	}
	if err := decodeBody(r, &in); err != nil {
		return nil, err
	}
	c, err := s.lookup(r)
	if err != nil {
		return nil, err
	}
	if in.AccessConfig == nil || in.AccessConfig.AuthenticationMode == "" {
		return nil, errInvalidParameter("No changes needed for the logging config provided")
	}
	if c.pending != nil {
		return nil, &apiError{http.StatusConflict, "ResourceInUseException", fmt.Sprintf("Cannot AccessConfigUpdate because cluster %s currently has update %s in progress", c.spec.Name, c.pending.id)}
	}
	want := in.AccessConfig.AuthenticationMode
	if allowedModeChanges[c.mode] != want {
		return nil, errInvalidParameter("Unsupported authentication mode update from %s to %s", c.mode, want)
	}
	now := time.Now()
	u := &update{id: uuid(), status: "InProgress", mode: want, createdAt: now, doneAt: now.Add(s.opts.UpdateDuration)}
	c.updates[u.id] = u
	c.pending = u
	out := map[string]any{"update": updateJSON(u)}
	s.settle(c)
	return out, nil
}

func (s *Server) describeUpdate(r *http.Request) (any, error) {
	c, err := s.lookup(r)
	if err != nil {
		return nil, err
	}
	u, ok := c.updates[r.PathValue("updateId")]
	if !ok {
		return nil, &apiError{http.StatusNotFound, "ResourceNotFoundException", "No update found for ID: " + r.PathValue("updateId") + "."}
	}
	return map[string]any{"update": updateJSON(u)}, nil
}

var (
	iamPrincipalRe = regexp.MustCompile(`^arn:aws(-[a-z]+)*:iam::[0-9]{12}:(role|user)/([\w+=,.@/-]+)$`)
	reservedPrefix = []string{"system:", "eks:", "aws:", "amazon:", "iam:"}
)

// checkPrincipal applies EKS's principal rules for an entry of type typ.
func (s *Server) checkPrincipal(c *cluster, arn, typ string) error {
	if strings.Contains(arn, ":sts::") {
		return errPrincipalFmt
	}
	m := iamPrincipalRe.FindStringSubmatch(arn)
	if m == nil {
		return errPrincipalFmt
	}
	if strings.HasPrefix(m[3], "aws-service-role/") {
		return errBadPrincipal
	}
	if s.opts.KnownPrincipals != nil && !slices.Contains(s.opts.KnownPrincipals, arn) {
		return errBadPrincipal
	}
	if typ != "STANDARD" {
		if m[2] != "role" {
			return errInvalidParameter("The principalArn for an access entry of type %s must be an IAM role.", typ)
		}
		if _, acct, _ := splitPrincipal(arn); acct != s.opts.AccountID {
			return errInvalidParameter("The principalArn for an access entry of type %s must be in the cluster's account.", typ)
		}
	}
	return nil
}

func checkGroups(groups []string) error {
	for _, g := range groups {
		if strings.HasPrefix(g, "system:") {
			return errInvalidParameter("The kubernetes group name %s is invalid, it cannot start with system:", g)
		}
	}
	return nil
}

func checkUsername(u string) error {
	for _, p := range reservedPrefix {
		if strings.HasPrefix(u, p) {
			return errInvalidParameter("The username must not begin with %s", p)
		}
	}
	for _, ph := range []string{"{{SessionName}}", "{{SessionNameRaw}}"} {
		if i := strings.Index(u, ph); i >= 0 && !strings.Contains(u[:i], ":") {
			return errInvalidParameter("The username %s is invalid: %s must be preceded by a ':' somewhere in the username", u, ph)
		}
	}
	return nil
}

// defaultUsername is what EKS fills in when no username is given.
func (s *Server) defaultUsername(arn, typ string) string {
	switch typ {
	case "EC2_LINUX", "EC2_WINDOWS", "EC2":
		return "system:node:{{EC2PrivateDNSName}}"
	case "FARGATE_LINUX", "HYBRID_LINUX", "HYPERPOD_LINUX":
		return "system:node:{{SessionName}}"
	}
	kind, acct, name := splitPrincipal(arn)
	if kind == "role" {
		partition := strings.SplitN(arn, ":", 3)[1]
		return fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/{{SessionName}}", partition, acct, name)
	}
	return arn
}

func entryJSON(clusterName string, e *entry) map[string]any {
	return map[string]any{
		"clusterName": clusterName, "principalArn": e.principalARN, "kubernetesGroups": e.groups,
		"accessEntryArn": e.arn, "createdAt": epoch(e.createdAt), "modifiedAt": epoch(e.modifiedAt),
		"tags": e.tags, "username": e.username, "type": e.entryType,
	}
}

func (s *Server) createAccessEntry(r *http.Request) (any, error) {
	var in struct {
		PrincipalARN       string            `json:"principalArn"`
		KubernetesGroups   []string          `json:"kubernetesGroups"`
		Tags               map[string]string `json:"tags"`
		ClientRequestToken string            `json:"clientRequestToken"`
		Username           string            `json:"username"`
		Type               string            `json:"type"`
	}
	if err := decodeBody(r, &in); err != nil {
		return nil, err
	}
	c, err := s.entryAPI(r)
	if err != nil {
		return nil, err
	}
	if in.PrincipalARN == "" {
		return nil, errInvalidParameter("principalArn is required")
	}
	if in.Type == "" {
		in.Type = "STANDARD"
	}
	if !slices.Contains(entryTypes, in.Type) {
		return nil, errInvalidParameter("The type %s is invalid, valid types are %s", in.Type, strings.Join(entryTypes, ", "))
	}
	fingerprint := fmt.Sprintf("create|%s|%v|%s|%s|%v", in.PrincipalARN, in.KubernetesGroups, in.Username, in.Type, in.Tags)
	if e, ok := c.entries[in.PrincipalARN]; ok {
		// The SDK reuses its token on retries: a replay is not a conflict.
		if in.ClientRequestToken != "" && c.tokens[in.ClientRequestToken] == fingerprint {
			return map[string]any{"accessEntry": entryJSON(c.spec.Name, e)}, nil
		}
		return nil, errEntryInUse
	}
	if err := s.checkPrincipal(c, in.PrincipalARN, in.Type); err != nil {
		return nil, err
	}
	if in.Type != "STANDARD" && (len(in.KubernetesGroups) > 0 || in.Username != "") {
		return nil, errInvalidParameter("kubernetesGroups and username can only be set for access entries of type STANDARD")
	}
	if err := checkGroups(in.KubernetesGroups); err != nil {
		return nil, err
	}
	if err := checkUsername(in.Username); err != nil {
		return nil, err
	}
	username, groups := in.Username, in.KubernetesGroups
	if username == "" {
		username = s.defaultUsername(in.PrincipalARN, in.Type)
	}
	if in.Type == "EC2_LINUX" {
		groups = []string{"system:nodes"}
	}
	e := s.newEntry(c, in.PrincipalARN, in.Type, username, groups, in.Tags)
	c.entries[e.principalARN] = e
	if in.ClientRequestToken != "" {
		c.tokens[in.ClientRequestToken] = fingerprint
	}
	return map[string]any{"accessEntry": entryJSON(c.spec.Name, e)}, nil
}

func (s *Server) findEntry(r *http.Request) (*cluster, *entry, error) {
	c, err := s.entryAPI(r)
	if err != nil {
		return nil, nil, err
	}
	e, ok := c.entries[r.PathValue("principalArn")]
	if !ok {
		return nil, nil, errEntryNotFound
	}
	return c, e, nil
}

func (s *Server) describeAccessEntry(r *http.Request) (any, error) {
	c, e, err := s.findEntry(r)
	if err != nil {
		return nil, err
	}
	return map[string]any{"accessEntry": entryJSON(c.spec.Name, e)}, nil
}

func (s *Server) updateAccessEntry(r *http.Request) (any, error) {
	var in struct {
		KubernetesGroups   *[]string `json:"kubernetesGroups"`
		Username           *string   `json:"username"`
		ClientRequestToken string    `json:"clientRequestToken"`
	}
	if err := decodeBody(r, &in); err != nil {
		return nil, err
	}
	c, e, err := s.findEntry(r)
	if err != nil {
		return nil, err
	}
	if e.entryType != "STANDARD" && (in.KubernetesGroups != nil || in.Username != nil) {
		return nil, errInvalidParameter("kubernetesGroups and username can only be set for access entries of type STANDARD")
	}
	if in.KubernetesGroups != nil {
		if err := checkGroups(*in.KubernetesGroups); err != nil {
			return nil, err
		}
	}
	if in.Username != nil {
		if err := checkUsername(*in.Username); err != nil {
			return nil, err
		}
	}
	if in.KubernetesGroups != nil {
		e.groups = append([]string{}, *in.KubernetesGroups...)
	}
	if in.Username != nil && *in.Username != "" {
		e.username = *in.Username
	}
	e.modifiedAt = time.Now()
	return map[string]any{"accessEntry": entryJSON(c.spec.Name, e)}, nil
}

func (s *Server) deleteAccessEntry(r *http.Request) (any, error) {
	c, e, err := s.findEntry(r)
	if err != nil {
		return nil, err
	}
	delete(c.entries, e.principalARN)
	return map[string]any{}, nil
}

func associationJSON(a *association) map[string]any {
	ns := a.namespaces
	if ns == nil {
		ns = []string{}
	}
	return map[string]any{
		"policyArn":    a.policyARN,
		"accessScope":  map[string]any{"type": a.scopeType, "namespaces": ns},
		"associatedAt": epoch(a.associatedAt), "modifiedAt": epoch(a.modifiedAt),
	}
}

func (s *Server) knownPolicy(arn string) bool {
	for _, n := range PolicyNames {
		if s.policyARN(n) == arn {
			return true
		}
	}
	return false
}

func (s *Server) associateAccessPolicy(r *http.Request) (any, error) {
	var in struct {
		PolicyARN   string `json:"policyArn"`
		AccessScope *struct {
			Type       string   `json:"type"`
			Namespaces []string `json:"namespaces"`
		} `json:"accessScope"`
	}
	if err := decodeBody(r, &in); err != nil {
		return nil, err
	}
	c, e, err := s.findEntry(r)
	if err != nil {
		return nil, err
	}
	if e.entryType != "STANDARD" {
		return nil, errStandardOnly
	}
	if !s.knownPolicy(in.PolicyARN) {
		return nil, errInvalidParameter("The policyArn %s is not a valid access policy ARN", in.PolicyARN)
	}
	if in.AccessScope == nil {
		return nil, errInvalidParameter("accessScope is required")
	}
	var namespaces []string
	switch in.AccessScope.Type {
	case "cluster":
		if len(in.AccessScope.Namespaces) > 0 {
			return nil, errInvalidParameter("Namespaces cannot be specified for an access scope of type cluster")
		}
	case "namespace":
		if len(in.AccessScope.Namespaces) == 0 {
			return nil, errInvalidParameter("At least one namespace must be specified for an access scope of type namespace")
		}
		namespaces = append([]string{}, in.AccessScope.Namespaces...)
	default:
		return nil, errInvalidParameter("The access scope type %s is invalid, valid types are cluster, namespace", in.AccessScope.Type)
	}
	now := time.Now()
	a, ok := e.policies[in.PolicyARN]
	if !ok {
		a = &association{policyARN: in.PolicyARN, associatedAt: now}
		e.policies[in.PolicyARN] = a
	}
	a.scopeType, a.namespaces, a.modifiedAt = in.AccessScope.Type, namespaces, now
	return map[string]any{"clusterName": c.spec.Name, "principalArn": e.principalARN, "associatedAccessPolicy": associationJSON(a)}, nil
}

func (s *Server) disassociateAccessPolicy(r *http.Request) (any, error) {
	_, e, err := s.findEntry(r)
	if err != nil {
		return nil, err
	}
	if _, ok := e.policies[r.PathValue("policyArn")]; !ok {
		return nil, &apiError{http.StatusNotFound, "ResourceNotFoundException", "The specified policyArn is not associated with the access entry."}
	}
	delete(e.policies, r.PathValue("policyArn"))
	return map[string]any{}, nil
}

// page applies maxResults/nextToken to a sorted list of keys. The token is
// the last key of the previous page.
func page(r *http.Request, keys []string) (out []string, next string, err error) {
	max := 100
	if v := r.URL.Query().Get("maxResults"); v != "" {
		n, convErr := strconv.Atoi(v)
		if convErr != nil || n < 1 || n > 100 {
			return nil, "", errInvalidParameter("maxResults must be between 1 and 100")
		}
		max = n
	}
	start := 0
	if tok := r.URL.Query().Get("nextToken"); tok != "" {
		start = sort.SearchStrings(keys, tok)
		if start < len(keys) && keys[start] == tok {
			start++
		}
	}
	end := min(start+max, len(keys))
	out = keys[start:end]
	if end < len(keys) && len(out) > 0 {
		next = out[len(out)-1]
	}
	return out, next, nil
}

func withNext(body map[string]any, next string) map[string]any {
	if next != "" {
		body["nextToken"] = next
	}
	return body
}

func (s *Server) listAccessEntries(r *http.Request) (any, error) {
	c, err := s.entryAPI(r)
	if err != nil {
		return nil, err
	}
	filter := r.URL.Query().Get("associatedPolicyArn")
	keys := make([]string, 0, len(c.entries))
	for k, e := range c.entries {
		if _, ok := e.policies[filter]; filter == "" || ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out, next, err := page(r, keys)
	if err != nil {
		return nil, err
	}
	return withNext(map[string]any{"accessEntries": append([]string{}, out...)}, next), nil
}

func (s *Server) listAssociatedAccessPolicies(r *http.Request) (any, error) {
	c, e, err := s.findEntry(r)
	if err != nil {
		return nil, err
	}
	var keys []string
	for k := range e.policies {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out, next, err := page(r, keys)
	if err != nil {
		return nil, err
	}
	list := []map[string]any{}
	for _, k := range out {
		list = append(list, associationJSON(e.policies[k]))
	}
	return withNext(map[string]any{"clusterName": c.spec.Name, "principalArn": e.principalARN, "associatedAccessPolicies": list}, next), nil
}

func (s *Server) listAccessPolicies(r *http.Request) (any, error) {
	out, next, err := page(r, PolicyNames)
	if err != nil {
		return nil, err
	}
	list := []map[string]string{}
	for _, n := range out {
		list = append(list, map[string]string{"name": n, "arn": s.policyARN(n)})
	}
	return withNext(map[string]any{"accessPolicies": list}, next), nil
}
