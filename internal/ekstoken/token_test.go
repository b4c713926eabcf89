package ekstoken

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func stsClient(key, secret string) *sts.Client {
	return sts.New(sts.Options{Region: "us-west-2", Credentials: credentials.NewStaticCredentialsProvider(key, secret, "")})
}

func TestGenerateThenVerify(t *testing.T) {
	secrets := func(k string) (string, bool) {
		return map[string]string{"AKIDALICE": "alice-secret"}[k], k == "AKIDALICE"
	}
	tok, err := Generate(context.Background(), stsClient("AKIDALICE", "alice-secret"), "prod")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tests := []struct {
		name    string
		token   string
		cluster string
		secrets SecretLookup
		at      time.Time
		want    error
	}{
		{"valid", tok.Value, "prod", secrets, now, nil},
		{"other cluster", tok.Value, "staging", secrets, now, ErrSignature},
		{"wrong secret", tok.Value, "prod", func(string) (string, bool) { return "not-it", true }, now, ErrSignature},
		{"unknown key", tok.Value, "prod", func(string) (string, bool) { return "", false }, now, ErrUnknowKey},
		{"expired", tok.Value, "prod", secrets, now.Add(16 * time.Minute), ErrExpired},
		{"not a token", "Bearer xyz", "prod", secrets, now, ErrMalformed},
		{"garbage", Prefix + "!!!", "prod", secrets, now, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Verify(context.Background(), tt.token, tt.cluster, tt.secrets, tt.at)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify err = %v, want %v", err, tt.want)
			}
			if err == nil && (c.AccessKeyID != "AKIDALICE" || c.Region != "us-west-2") {
				t.Errorf("claims = %+v", c)
			}
		})
	}
	if time.Until(tok.Expiration) < 13*time.Minute {
		t.Errorf("expiration %v too soon", tok.Expiration)
	}
}
