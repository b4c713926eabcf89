package eksconn

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
)

// Identity is the AWS identity a cluster is reached with: a profile (empty:
// the environment's default chain), and a role assumed with it.
type Identity struct {
	Profile, RoleARN, ExternalID string
}

func (id Identity) String() string {
	s := "default credentials"
	if id.Profile != "" {
		s = "profile " + id.Profile
	}
	if id.RoleARN != "" {
		s = "role " + id.RoleARN + " (assumed with " + s + ")"
	}
	return s
}

// SessionNamePrefix starts the session name of every role iammap assumes,
// so CloudTrail and the cluster's audit log say which tool acted.
const SessionNamePrefix = "iammap-"

// SessionName names a role session iammap-<CI run> in a CI job (GitHub
// Actions' run id and attempt, GitLab's job id), so CloudTrail ties each
// change to the pipeline run that made it, else iammap-<UTC time>. STS
// takes 2 to 64 characters of [\w+=,.@-].
func SessionName(now time.Time, getenv func(string) string) string {
	name := now.UTC().Format("20060102T150405Z")
	switch {
	case getenv("GITHUB_RUN_ID") != "":
		name = "gh-" + getenv("GITHUB_RUN_ID")
		if a := getenv("GITHUB_RUN_ATTEMPT"); a != "" {
			name += "-" + a
		}
	case getenv("CI_JOB_ID") != "":
		name = "gitlab-" + getenv("CI_JOB_ID")
	}
	name = sessionNameUnsafe.ReplaceAllString(name, "_")
	if len(SessionNamePrefix+name) > 64 {
		name = name[:64-len(SessionNamePrefix)]
	}
	return SessionNamePrefix + name
}

var sessionNameUnsafe = regexp.MustCompile(`[^\w+=,.@-]`)

// Sessions loads the AWS configuration once per Identity and shares its
// credentials (and so one AssumeRole, refreshed before it expires) between
// every cluster reached with that identity, whatever their regions: a fleet
// of a hundred clusters in three accounts makes three AssumeRole calls, not a
// hundred. The zero value is ready; it is safe for concurrent use.
type Sessions struct {
	// Log, when set, hears every AWS call made with these sessions (the
	// role's AssumeRole included): -v 5, as eksctl logs its AWS calls.
	Log CallLog

	mu   sync.Mutex
	byID map[Identity]*session
	// now names the sessions; tests may fix it.
	now func() time.Time
}

type session struct {
	mu   sync.Mutex
	done bool
	cfg  aws.Config
	err  error
}

// Config returns the AWS configuration for id in region ("" keeps the
// profile's or the environment's region; none at all is ErrNoRegion).
func (s *Sessions) Config(ctx context.Context, id Identity, region string) (aws.Config, error) {
	s.mu.Lock()
	if s.byID == nil {
		s.byID = map[Identity]*session{}
	}
	sess := s.byID[id]
	if sess == nil {
		sess = &session{}
		s.byID[id] = sess
	}
	now := s.now
	s.mu.Unlock()
	if now == nil {
		now = time.Now
	}
	sess.mu.Lock()
	if !sess.done {
		cfg, err := load(ctx, id, region, now(), s.Log)
		if err != nil && ctx.Err() != nil {
			// This cluster's run was cancelled or timed out: the next
			// cluster of the identity tries again rather than inherit it.
			sess.mu.Unlock()
			return aws.Config{}, err
		}
		sess.cfg, sess.err, sess.done = cfg, err, true
	}
	sess.mu.Unlock()
	if sess.err != nil {
		return aws.Config{}, sess.err
	}
	cfg := sess.cfg.Copy()
	if region != "" {
		cfg.Region = region
	}
	if cfg.Region == "" {
		return aws.Config{}, fmt.Errorf("%w: pass --region, set AWS_REGION, or give the cluster a region in the access file", ErrNoRegion)
	}
	return cfg, nil
}

// load makes the shared configuration of one identity. The role's
// credentials are fetched on first use and cached (aws.CredentialsCache), so
// a role that may not be assumed fails the clusters that need it, with
// STS's answer, and no other.
func load(ctx context.Context, id Identity, region string, now time.Time, log CallLog) (aws.Config, error) {
	// The shared configuration keeps the profile's (or environment's)
	// region; each cluster sets its own on a copy.
	cfg, err := loadBase(ctx, "", id.Profile)
	if err != nil {
		return cfg, err
	}
	if log != nil {
		cfg.APIOptions = append(cfg.APIOptions, logCalls(log))
	}
	if id.RoleARN == "" {
		return cfg, nil
	}
	// STS is called in the profile's region, else in the region of the
	// first cluster that needs the role.
	stsCfg := cfg.Copy()
	if stsCfg.Region == "" {
		stsCfg.Region = region
	}
	provider := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(stsCfg), id.RoleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = SessionName(now, os.Getenv)
		if id.ExternalID != "" {
			o.ExternalID = aws.String(id.ExternalID)
		}
	})
	cfg.Credentials = aws.NewCredentialsCache(provider)
	return cfg, nil
}

// CallLog hears one AWS call: which, how it ended, how long it took
// (retries included). It never sees a request's headers or body, so no
// credential or token can reach a log through it.
type CallLog func(service, operation string, err error, took time.Duration)

// logCalls reports each operation to log once it ends, if a request was
// sent: a presigned request (the Kubernetes token) is made, never sent, and
// is no call.
func logCalls(log CallLog) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		err := stack.Initialize.Add(middleware.InitializeMiddlewareFunc("iammapCallLog",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				start, sent := time.Now(), new(bool)
				out, md, err := next.HandleInitialize(middleware.WithStackValue(ctx, callSentKey{}, sent), in)
				if *sent {
					log(middleware.GetServiceID(ctx), middleware.GetOperationName(ctx), err, time.Since(start))
				}
				return out, md, err
			}), middleware.Before)
		if err != nil {
			return err
		}
		// The deserialize step runs once the request goes out.
		return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("iammapCallSent",
			func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
				if sent, ok := middleware.GetStackValue(ctx, callSentKey{}).(*bool); ok {
					*sent = true
				}
				return next.HandleDeserialize(ctx, in)
			}), middleware.After)
	}
}

type callSentKey struct{}
