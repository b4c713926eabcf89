// Package ekstoken makes and checks EKS bearer tokens, the way
// `aws eks get-token` and aws-iam-authenticator do: a token is
// "k8s-aws-v1." + base64url(presigned STS GetCallerIdentity URL), signed with
// SigV4 over the host and the x-k8s-aws-id header naming the cluster.
//
// [Generate] needs only AWS credentials (no aws CLI). [Verify] checks a
// token's signature with a known secret; the local stack's authenticator
// uses it in place of calling STS.
package ekstoken

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Prefix marks an EKS token.
const Prefix = "k8s-aws-v1."

// ClusterIDHeader binds a token to one cluster.
const ClusterIDHeader = "x-k8s-aws-id"

// Lifetime: the presigned URL is valid for 60 s; clients refresh after 14 min
// like aws-iam-authenticator (STS accepts the URL for 15 min after signing).
const (
	presignExpiry = 60 * time.Second
	Validity      = 15 * time.Minute
	refreshAfter  = 14 * time.Minute
)

// Token is a bearer token and when a client should stop using it.
type Token struct {
	Value      string
	Expiration time.Time
}

// expiringPresigner adds X-Amz-Expires, which the SDK's STS presigner does not set.
type expiringPresigner struct{ signer *v4.Signer }

func (p expiringPresigner) PresignHTTP(ctx context.Context, creds aws.Credentials, r *http.Request, payloadHash, service, region string, signingTime time.Time, optFns ...func(*v4.SignerOptions)) (string, http.Header, error) {
	q := r.URL.Query()
	q.Set("X-Amz-Expires", strconv.Itoa(int(presignExpiry/time.Second)))
	r.URL.RawQuery = q.Encode()
	return p.signer.PresignHTTP(ctx, creds, r, payloadHash, service, region, signingTime, optFns...)
}

// Generate returns a token for cluster, signed with client's credentials.
func Generate(ctx context.Context, client *sts.Client, cluster string) (Token, error) {
	presign := sts.NewPresignClient(client, func(o *sts.PresignOptions) {
		o.Presigner = expiringPresigner{signer: v4.NewSigner()}
	})
	signedAt := time.Now()
	req, err := presign.PresignGetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}, func(o *sts.PresignOptions) {
		o.ClientOptions = append(o.ClientOptions, func(so *sts.Options) {
			so.APIOptions = append(so.APIOptions, smithyhttp.AddHeaderValue(ClusterIDHeader, cluster))
		})
	})
	if err != nil {
		return Token{}, fmt.Errorf("sign token for cluster %s: %w", cluster, err)
	}
	return Token{
		Value:      Prefix + base64.RawURLEncoding.EncodeToString([]byte(req.URL)),
		Expiration: signedAt.Add(refreshAfter),
	}, nil
}

// Errors from Verify.
var (
	ErrMalformed = errors.New("malformed token")
	ErrExpired   = errors.New("token expired")
	ErrSignature = errors.New("signature does not match")
	ErrCluster   = errors.New("token is for another cluster")
	ErrUnknowKey = errors.New("unknown access key")
)

// Claims is what a verified token says about its caller.
type Claims struct {
	AccessKeyID string
	Region      string
	SignedAt    time.Time
}

// SecretLookup returns the secret of an access key id, or false.
type SecretLookup func(accessKeyID string) (secret string, ok bool)

// Verify checks a token for cluster at time now: shape, expiry (15 minutes
// after signing, as STS), the cluster header, and the SigV4 signature
// recomputed with the secret of the token's access key.
func Verify(ctx context.Context, token, cluster string, secrets SecretLookup, now time.Time) (Claims, error) {
	raw, ok := strings.CutPrefix(token, Prefix)
	if !ok {
		return Claims{}, fmt.Errorf("%w: no %s prefix", ErrMalformed, Prefix)
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(raw, "="))
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	u, err := url.Parse(string(b))
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	q := u.Query()
	if q.Get("Action") != "GetCallerIdentity" || q.Get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" {
		return Claims{}, fmt.Errorf("%w: not a presigned GetCallerIdentity", ErrMalformed)
	}
	signed := strings.Split(q.Get("X-Amz-SignedHeaders"), ";")
	if !contains(signed, "host") || !contains(signed, ClusterIDHeader) {
		return Claims{}, fmt.Errorf("%w: host and %s must be signed", ErrMalformed, ClusterIDHeader)
	}
	cred := strings.Split(q.Get("X-Amz-Credential"), "/")
	if len(cred) != 5 || cred[3] != "sts" || cred[4] != "aws4_request" {
		return Claims{}, fmt.Errorf("%w: bad credential scope", ErrMalformed)
	}
	signedAt, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
	if err != nil {
		return Claims{}, fmt.Errorf("%w: bad X-Amz-Date", ErrMalformed)
	}
	if now.After(signedAt.Add(Validity)) || signedAt.After(now.Add(5*time.Minute)) {
		return Claims{}, fmt.Errorf("%w: signed at %s", ErrExpired, signedAt.Format(time.RFC3339))
	}
	claims := Claims{AccessKeyID: cred[0], Region: cred[2], SignedAt: signedAt}
	secret, ok := secrets(claims.AccessKeyID)
	if !ok {
		return Claims{}, fmt.Errorf("%w %s", ErrUnknowKey, claims.AccessKeyID)
	}
	// Re-sign the same request with the known secret and compare. The
	// cluster comes from the verifier: a token for another cluster fails here.
	want := q.Get("X-Amz-Signature")
	for _, k := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Signature"} {
		q.Del(k)
	}
	resign := *u
	resign.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, resign.String(), nil)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	req.Header.Set(ClusterIDHeader, cluster)
	creds := aws.Credentials{AccessKeyID: claims.AccessKeyID, SecretAccessKey: secret, SessionToken: q.Get("X-Amz-Security-Token")}
	got, _, err := v4.NewSigner().PresignHTTP(ctx, creds, req, emptyPayloadHash, "sts", claims.Region, signedAt)
	if err != nil {
		return Claims{}, err
	}
	gotURL, err := url.Parse(got)
	if err != nil {
		return Claims{}, err
	}
	if gotURL.Query().Get("X-Amz-Signature") != want {
		if q.Get(ClusterIDHeader) == "" {
			return Claims{}, fmt.Errorf("%w (or %w)", ErrSignature, ErrCluster)
		}
		return Claims{}, ErrSignature
	}
	return claims, nil
}

// emptyPayloadHash is the SHA-256 of an empty body, which a presigned GET signs.
const emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
