package authwebhook

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// The token rules below are aws-iam-authenticator v0.7.18's: what its
// pkg/token tokenVerifier.Verify refuses before it calls STS. They are
// written again here (the stack does not link the authenticator), rule for
// rule; tools/authenticator/oracle's TestTokenRulesAgreeWithTheAuthenticator
// feeds testdata/tokenrules.json to the authenticator's own Verify and this
// package's test feeds it to tokenRules.check, so the two cannot drift apart
// unnoticed.
const (
	maxTokenLen      = 4 * 1024 // maxTokenLenBytes
	maxExpiresSecond = 900      // X-Amz-Expires: 0..900
	tokenLifetime    = 15 * time.Minute
	clusterIDHeader  = "x-k8s-aws-id"
	amzDateFormat    = "20060102T150405Z"
	globalSTSHost    = "sts.amazonaws.com"
	globalSTSRegion  = "us-east-1" // the region the global endpoint signs for
)

// allowedParams is the authenticator's parameterWhitelist (lower case; the
// authenticator compares names case-insensitively).
var allowedParams = map[string]bool{
	"action":               true,
	"version":              true,
	"x-amz-algorithm":      true,
	"x-amz-credential":     true,
	"x-amz-date":           true,
	"x-amz-expires":        true,
	"x-amz-security-token": true,
	"x-amz-signature":      true,
	"x-amz-signedheaders":  true,
}

// regionPattern is the authenticator's validateInputRegion (from aws-sdk-go v1).
var regionPattern = regexp.MustCompile(`^[[:alnum:]]([[:alnum:]\-]*[[:alnum:]])?$`)

// errTokenRule marks a token the authenticator refuses before asking STS.
var errTokenRule = errors.New("aws-iam-authenticator refuses the token")

// tokenRules is the authenticator's verifier for one partition and region
// (NewVerifier(clusterID, partition, region); the cluster id is checked by
// the signature, as STS does).
type tokenRules struct {
	partition string
	region    string
	// localSTS is the stack's own STS endpoint (scheme and host). The
	// stack's tokens are presigned for it when AWS_ENDPOINT_URL_STS points
	// there, and it cannot be an https STS host of the partition, so it is
	// the one exception to the scheme and host rules; every other rule
	// applies to it. Nil: any http://127.0.0.1:PORT, where the stack serves.
	localSTS *url.URL
}

// presigned is what a token that passes the rules presigns.
type presigned struct {
	URL *url.URL
	// EndpointRegion is the region STS at URL's host signs for.
	EndpointRegion string
	Local          bool
}

func ruleErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errTokenRule, fmt.Sprintf(format, a...))
}

// check applies the authenticator's rules to token at time now.
func (r tokenRules) check(token string, now time.Time) (presigned, error) {
	if len(token) > maxTokenLen {
		return presigned{}, ruleErr("token is too large")
	}
	raw, ok := strings.CutPrefix(token, "k8s-aws-v1.")
	if !ok {
		return presigned{}, ruleErr("token is missing expected %q prefix", "k8s-aws-v1.")
	}
	// Unpadded base64url only: the authenticator does not trim '='.
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return presigned{}, ruleErr("%v", err)
	}
	u, err := url.Parse(string(b))
	if err != nil {
		return presigned{}, ruleErr("%v", err)
	}
	p := presigned{URL: u, Local: r.isLocalSTS(u)}
	if p.Local {
		// The local STS accepts the stack's region and the global one.
		p.EndpointRegion = r.region
	} else {
		if u.Scheme != "https" {
			return presigned{}, ruleErr("unexpected scheme %q in pre-signed URL", u.Scheme)
		}
		if err := r.checkHost(u.Host); err != nil {
			return presigned{}, err
		}
		if p.EndpointRegion, err = stsRegion(u.Host); err != nil {
			return presigned{}, ruleErr("%v", err)
		}
		if p.EndpointRegion == "global" {
			p.EndpointRegion = globalSTSRegion
		}
	}
	if u.Path != "/" {
		return presigned{}, ruleErr("unexpected path in pre-signed URL")
	}
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return presigned{}, ruleErr("malformed query parameter")
	}
	lower := url.Values{}
	for key, values := range query {
		k := strings.ToLower(key)
		if _, dup := lower[k]; dup {
			return presigned{}, ruleErr("duplicate query parameter found: %q", key)
		}
		if !allowedParams[k] {
			return presigned{}, ruleErr("non-whitelisted query parameter %q", key)
		}
		if len(values) != 1 {
			return presigned{}, ruleErr("query parameter with multiple values not supported")
		}
		lower.Set(k, values[0])
	}
	if lower.Get("action") != "GetCallerIdentity" {
		return presigned{}, ruleErr("unexpected action parameter in pre-signed URL")
	}
	if !slices.ContainsFunc(strings.Split(lower.Get("x-amz-signedheaders"), ";"), func(h string) bool { return strings.EqualFold(h, clusterIDHeader) }) {
		return presigned{}, ruleErr("client did not sign the %s header in the pre-signed URL", clusterIDHeader)
	}
	// Required: a missing X-Amz-Expires fails to parse, as in the authenticator.
	if expires, err := strconv.Atoi(lower.Get("x-amz-expires")); err != nil || expires < 0 || expires > maxExpiresSecond {
		return presigned{}, ruleErr("invalid X-Amz-Expires parameter in pre-signed URL: %q", lower.Get("x-amz-expires"))
	}
	date := lower.Get("x-amz-date")
	if date == "" {
		return presigned{}, ruleErr("X-Amz-Date parameter must be present in pre-signed URL")
	}
	signedAt, err := time.Parse(amzDateFormat, date)
	if err != nil {
		return presigned{}, ruleErr("error parsing X-Amz-Date parameter %s: %v", date, err)
	}
	// Only expiry: a date in the future is STS's to refuse, not the authenticator's.
	if now.After(signedAt.Add(tokenLifetime)) {
		return presigned{}, ruleErr("X-Amz-Date parameter is expired (15 minute expiration) %s", signedAt)
	}
	if _, err := http.NewRequest(http.MethodGet, u.String(), nil); err != nil {
		return presigned{}, ruleErr("error creating HTTP request: %v", err)
	}
	return p, nil
}

func (r tokenRules) isLocalSTS(u *url.URL) bool {
	if r.localSTS != nil {
		return u.Scheme == r.localSTS.Scheme && u.Host == r.localSTS.Host
	}
	host, port, err := net.SplitHostPort(u.Host)
	return err == nil && u.Scheme == "http" && host == "127.0.0.1" && port != ""
}

// checkHost is the authenticator's verifySTSHostnameFormat: the partition's
// global endpoint (aws only), or an endpoint the SDK's STS resolver gives
// for the host's region (plain, FIPS, dual-stack) in the partition's
// domains, or the verifier's own region's default host names. A port makes
// the host match nothing.
func (r tokenRules) checkHost(host string) error {
	region, err := stsRegion(host)
	if err != nil {
		return ruleErr("could not parse region for pre-signed URL %s, %v", host, err)
	}
	if region == "global" {
		if r.partition == "aws" {
			return nil
		}
		return ruleErr("global endpoint unsupported in partition %s", r.partition)
	}
	if !regionPattern.MatchString(region) {
		return ruleErr("invalid region identifier format provided: %s", region)
	}
	resolver := sts.NewDefaultEndpointResolverV2()
	var resolved []string
	for _, fips := range []bool{true, false} {
		for _, dual := range []bool{true, false} {
			e, err := resolver.ResolveEndpoint(context.Background(), sts.EndpointParameters{Region: aws.String(region), UseFIPS: aws.Bool(fips), UseDualStack: aws.Bool(dual)})
			if err == nil {
				resolved = append(resolved, e.URI.Host)
			}
		}
	}
	domain, dualDomain, known := partitionDomains(r.partition)
	if !slices.Contains(resolved, host) {
		// Regions the SDK does not know yet: the verifier's own region's hosts.
		if known && regionPattern.MatchString(r.region) &&
			(host == "sts."+r.region+"."+domain || (dualDomain != "" && host == "sts."+r.region+"."+dualDomain)) {
			return nil
		}
		return ruleErr("unexpected hostname %q in pre-signed URL", host)
	}
	parts := strings.Split(host, ".")
	if len(parts) < 4 {
		return ruleErr("invalid host format, too few labels: %v", host)
	}
	if !known {
		return ruleErr("partition %s not valid", r.partition)
	}
	if actual := strings.Join(parts[2:], "."); actual != domain && actual != dualDomain {
		return ruleErr("partition {%s} does not support hostname %s", r.partition, host)
	}
	return nil
}

// stsRegion is the authenticator's getStsRegion: the second label, or
// "global" for the global endpoint.
func stsRegion(host string) (string, error) {
	if host == "" {
		return "", errors.New("host is empty")
	}
	parts := strings.Split(host, ".")
	if len(parts) < 3 {
		return "", fmt.Errorf("invalid host format: %v", host)
	}
	if host == globalSTSHost {
		return "global", nil
	}
	return parts[1], nil
}

// partitionDomains is the authenticator's pkg/endpoints table: the STS
// domain and dual-stack domain ("" when none) of each partition.
func partitionDomains(partition string) (domain, dualStack string, ok bool) {
	switch partition {
	case "aws":
		return "amazonaws.com", "api.aws", true
	case "aws-cn":
		return "amazonaws.com.cn", "api.amazonwebservices.com.cn", true
	case "aws-us-gov":
		return "amazonaws.com", "api.aws", true
	case "aws-iso":
		return "c2s.ic.gov", "", true
	case "aws-iso-b":
		return "sc2s.sgov.gov", "", true
	case "aws-iso-e":
		return "cloud.adc-e.uk", "", true
	case "aws-iso-f":
		return "csp.hci.ic.gov", "", true
	case "aws-eusc":
		return "amazonaws.eu", "api.amazonwebservices.eu", true
	}
	return "", "", false
}

// regionPatterns are the SDK's partitions.json region patterns: a host
// whose region matches none of its partition's is no STS endpoint.
var regionPatterns = map[string]*regexp.Regexp{
	"aws":        regexp.MustCompile(`^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$`),
	"aws-cn":     regexp.MustCompile(`^cn\-\w+\-\d+$`),
	"aws-eusc":   regexp.MustCompile(`^eusc\-(de)\-\w+\-\d+$`),
	"aws-iso":    regexp.MustCompile(`^us\-iso\-\w+\-\d+$`),
	"aws-iso-b":  regexp.MustCompile(`^us\-isob\-\w+\-\d+$`),
	"aws-iso-e":  regexp.MustCompile(`^eu\-isoe\-\w+\-\d+$`),
	"aws-iso-f":  regexp.MustCompile(`^us\-isof\-\w+\-\d+$`),
	"aws-us-gov": regexp.MustCompile(`^us\-gov\-\w+\-\d+$`),
}

// partitionRegion says whether region is one of partition's.
func partitionRegion(partition, region string) bool {
	re, ok := regionPatterns[partition]
	return ok && re.MatchString(region)
}
