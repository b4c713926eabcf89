package eksemu

import (
	"net/http"
	"slices"
	"strconv"
	"time"
)

// ClusterVersion is one Kubernetes version DescribeClusterVersions lists.
type ClusterVersion struct {
	Version, PatchVersion, PlatformVersion string
	Default                                bool
	// Status is STANDARD_SUPPORT, EXTENDED_SUPPORT or UNSUPPORTED.
	Status                                string
	Release, EndOfStandard, EndOfExtended time.Time
}

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// ClusterVersions is the emulator's fixed list, newest first: 1.37 (the
// version the local stack runs, and the default) down to 1.31. The dates and
// statuses of 1.31 to 1.34 are EKS's published calendar; those of 1.35 to
// 1.37, and every patch and platform version, are the emulator's own. The
// statuses are fixed, not computed from today's date.
var ClusterVersions = []ClusterVersion{
	{"1.37", "1.37.2", "eks.2", true, "STANDARD_SUPPORT", day("2026-09-24"), day("2027-11-24"), day("2028-11-24")},
	{"1.36", "1.36.4", "eks.5", false, "STANDARD_SUPPORT", day("2026-05-28"), day("2027-07-28"), day("2028-07-28")},
	{"1.35", "1.35.6", "eks.9", false, "STANDARD_SUPPORT", day("2026-01-27"), day("2027-03-27"), day("2028-03-27")},
	{"1.34", "1.34.8", "eks.13", false, "STANDARD_SUPPORT", day("2025-10-02"), day("2026-12-02"), day("2027-12-02")},
	{"1.33", "1.33.9", "eks.20", false, "EXTENDED_SUPPORT", day("2025-05-29"), day("2026-07-29"), day("2027-07-29")},
	{"1.32", "1.32.11", "eks.25", false, "EXTENDED_SUPPORT", day("2025-01-23"), day("2026-03-23"), day("2027-03-23")},
	{"1.31", "1.31.14", "eks.31", false, "UNSUPPORTED", day("2024-09-26"), day("2025-11-26"), day("2026-11-26")},
}

// statusNames maps VersionStatus to the deprecated ClusterVersionStatus.
var statusNames = map[string]string{"STANDARD_SUPPORT": "standard-support", "EXTENDED_SUPPORT": "extended-support", "UNSUPPORTED": "unsupported"}

func boolParam(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, errInvalidParameter("%s must be true or false", name)
	}
	return b, nil
}

// describeClusterVersions lists ClusterVersions. Without includeAll,
// unsupported versions are left out unless asked for by versionStatus (or
// the deprecated status) or by name in clusterVersions. The nextToken is the
// last version of the previous page.
func (s *Server) describeClusterVersions(r *http.Request) (any, error) {
	q := r.URL.Query()
	defaultOnly, err := boolParam(r, "defaultOnly")
	if err != nil {
		return nil, err
	}
	includeAll, err := boolParam(r, "includeAll")
	if err != nil {
		return nil, err
	}
	status := q.Get("versionStatus")
	if status != "" && statusNames[status] == "" {
		return nil, errInvalidParameter("versionStatus must be one of STANDARD_SUPPORT, EXTENDED_SUPPORT, UNSUPPORTED")
	}
	if old := q.Get("status"); old != "" {
		found := false
		for vs, name := range statusNames {
			if name == old && (status == "" || status == vs) {
				status, found = vs, true
			}
		}
		if !found {
			return nil, errInvalidParameter("status must be one of standard-support, extended-support, unsupported, and agree with versionStatus")
		}
	}
	max := 100
	if v := q.Get("maxResults"); v != "" {
		n, convErr := strconv.Atoi(v)
		if convErr != nil || n < 1 || n > 100 {
			return nil, errInvalidParameter("maxResults must be between 1 and 100")
		}
		max = n
	}
	names := q["clusterVersions"]
	clusterType := q.Get("clusterType")
	var list []ClusterVersion
	for _, v := range ClusterVersions {
		named := slices.Contains(names, v.Version)
		switch {
		case len(names) > 0 && !named,
			defaultOnly && !v.Default,
			status != "" && v.Status != status,
			clusterType != "" && clusterType != "eks",
			v.Status == "UNSUPPORTED" && !includeAll && status == "" && !named:
			continue
		}
		list = append(list, v)
	}
	start := 0
	if tok := q.Get("nextToken"); tok != "" {
		i := slices.IndexFunc(list, func(v ClusterVersion) bool { return v.Version == tok })
		if i < 0 {
			return nil, errInvalidParameter("The nextToken is not valid.")
		}
		start = i + 1
	}
	end := min(start+max, len(list))
	out := []map[string]any{}
	for _, v := range list[start:end] {
		out = append(out, map[string]any{
			"clusterVersion": v.Version, "clusterType": "eks", "defaultPlatformVersion": v.PlatformVersion,
			"defaultVersion": v.Default, "releaseDate": epoch(v.Release), "endOfStandardSupportDate": epoch(v.EndOfStandard),
			"endOfExtendedSupportDate": epoch(v.EndOfExtended), "status": statusNames[v.Status], "versionStatus": v.Status,
			"kubernetesPatchVersion": v.PatchVersion,
		})
	}
	next := ""
	if end < len(list) {
		next = list[end-1].Version
	}
	return withNext(map[string]any{"clusterVersions": out}, next), nil
}
