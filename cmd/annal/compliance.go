package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/gateways/admin"
	"github.com/annal-storage/annal/gateways/native/client"
	annallog "github.com/annal-storage/annal/log"
	"github.com/annal-storage/annal/projections/audit"
	"github.com/spf13/cobra"
)

// Compliance commands (ADR-014): tenant show/set-ttl/tags/shred, holds,
// audit export (admin API) and the offline audit verify.

// tenantCredentials reads an AWS shared-credentials file's profile.
func tenantCredentials(path, profile string) (id, secret string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", "", fmt.Errorf("credentials: %w", err)
	}
	defer f.Close()
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = strings.Trim(line, "[] ")
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || section != profile {
			continue
		}
		switch strings.TrimSpace(k) {
		case "aws_access_key_id":
			id = strings.TrimSpace(v)
		case "aws_secret_access_key":
			secret = strings.TrimSpace(v)
		}
	}
	if id == "" || secret == "" {
		return "", "", fmt.Errorf("credentials: no profile [%s] with a key in %s", profile, path)
	}
	return id, secret, sc.Err()
}

// authorize signs r as a tenant admin (with --credentials) or with the
// admin token.
func (a *adminClient) authorize(r *http.Request) error {
	if a.credentials != "" {
		id, secret, err := tenantCredentials(a.credentials, a.profile)
		if err != nil {
			return err
		}
		client.Sign(r, id, secret, time.Now())
		return nil
	}
	token, err := os.ReadFile(a.tokenFile)
	if err != nil {
		return fmt.Errorf("read admin token: %w", err)
	}
	r.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	return nil
}

func tenantComplianceCmds(a *adminClient) []*cobra.Command {
	show := &cobra.Command{
		Use: "show NAME", Short: "show a tenant: tags, KEK cache TTL, buckets, holds", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var d admin.TenantDetail
			if err := a.do("GET", "/v1/tenants/"+args[0], nil, &d); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "tenant %d %s (org %s)\n  compliance: %s\n  KEK cache TTL: %d s\n  buckets: %s\n", d.ID, d.Name, d.Org,
				strings.Join(d.Compliance, ","), d.KekTTL, strings.Join(d.Buckets, " "))
			if d.Shredded {
				fmt.Fprintf(w, "  SHREDDED at %s (KEK destroyed: %v)\n", d.ShreddedAt, d.KekDestroyed)
			}
			printHolds(w, d.Holds)
			return nil
		},
	}
	ttl := &cobra.Command{
		Use: "set-ttl NAME SECONDS", Short: "set a tenant's KEK cache TTL (5-300 s)", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var s uint32
			if _, err := fmt.Sscan(args[1], &s); err != nil {
				return fmt.Errorf("seconds: %w", err)
			}
			return a.do("POST", "/v1/tenants/"+args[0]+"/ttl", admin.TTLRequest{Seconds: s}, nil)
		},
	}
	var bucket string
	tags := &cobra.Command{
		Use: "tags NAME TAG,...", Short: "set the compliance tags of a tenant (or of --bucket); HIPAA, GDPR, revFADP, NAME=30d|7y", Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var list []string
			if len(args) == 2 && args[1] != "" {
				list = strings.Split(args[1], ",")
			}
			return a.do("POST", "/v1/tenants/"+args[0]+"/tags", admin.TagsRequest{Bucket: bucket, Tags: list}, nil)
		},
	}
	tags.Flags().StringVar(&bucket, "bucket", "", "set the tags of this bucket instead")
	var force bool
	var reason string
	shred := &cobra.Command{
		Use: "shred NAME", Short: "crypto-shred a tenant (refused without a hold when tags imply retention, unless --force --reason)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var rep commands.ShredReport
			if err := a.do("POST", "/v1/tenants/"+args[0]+"/shred", admin.ShredRequest{Force: force, Reason: reason}, &rep); err != nil {
				return err
			}
			ts := func(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }
			fmt.Fprintf(cmd.OutOrStdout(), "tenant %s shredded: %d namespaces purged, %d held chunks retained (holds %s)\n  KEK destroyed %s\n  broadcast     %s\n  TTL expiry    %s (nodes that missed the broadcast stop serving by then)\n",
				args[0], rep.Namespaces, rep.RetainedChunks, strings.Join(rep.Holds, ","), ts(rep.KekDestroyedNs), ts(rep.BroadcastNs), ts(rep.TTLExpiresNs))
			return nil
		},
	}
	shred.Flags().BoolVar(&force, "force", false, "shred although tags imply retention and no hold exists")
	shred.Flags().StringVar(&reason, "reason", "", "why (required with --force; audited)")
	var backpressure bool
	var valve time.Duration
	mode := &cobra.Command{
		Use: "audit-mode NAME", Short: "choose what a stalled audit export does: safety valve (default) or --backpressure", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.do("POST", "/v1/tenants/"+args[0]+"/audit-mode", admin.AuditModeRequest{Backpressure: backpressure, ValveSeconds: int64(valve.Seconds())}, nil)
		},
	}
	mode.Flags().BoolVar(&backpressure, "backpressure", false, "throttle the tenant's writes instead of collecting past the export")
	mode.Flags().DurationVar(&valve, "valve", 0, "safety valve (default 24h)")
	return []*cobra.Command{show, ttl, tags, shred, mode}
}

func printHolds(w io.Writer, hs []admin.HoldView) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOLD\tTENANT\tSCOPE\tTARGET\tSOURCE\tSTATE\tEXPIRES\tFLOOR\tREASON")
	for _, h := range hs {
		target := h.Bucket
		if h.Scope == "object" {
			target += "/" + h.Key
			if h.Key == "" {
				target += "#" + h.KeyHash[:min(12, len(h.KeyHash))]
			}
		}
		exp := h.Expires
		if exp == "" {
			exp = "until released"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.ID, h.Tenant, h.Scope, target, h.Source, h.State, exp, h.Floor, h.Reason)
	}
	tw.Flush()
}

func holdCmd(a *adminClient) *cobra.Command {
	c := &cobra.Command{Use: "hold", Short: "retention holds: place, extend, release, list"}
	var tenant, bucket, key, reason, duration, until string
	place := &cobra.Command{
		Use: "place", Short: "place a hold on a tenant, a bucket (--bucket) or an object (--bucket --key)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			scope := "tenant"
			switch {
			case key != "":
				scope = "object"
			case bucket != "":
				scope = "namespace"
			}
			var h admin.HoldView
			if err := a.do("POST", "/v1/holds", admin.HoldRequest{Tenant: tenant, Scope: scope, Bucket: bucket, Key: key, Reason: reason, Duration: duration}, &h); err != nil {
				return err
			}
			printHolds(cmd.OutOrStdout(), []admin.HoldView{h})
			return nil
		},
	}
	place.Flags().StringVar(&tenant, "tenant", "", "tenant name (required)")
	place.Flags().StringVar(&bucket, "bucket", "", "bucket (namespace) to hold")
	place.Flags().StringVar(&key, "key", "", "object key to hold (with --bucket)")
	place.Flags().StringVar(&reason, "reason", "", "why (recorded)")
	place.Flags().StringVar(&duration, "duration", "", "how long: 30d, 6y or a Go duration (default: until released)")
	_ = place.MarkFlagRequired("tenant")
	extend := &cobra.Command{
		Use: "extend ID", Short: "lengthen a hold (--until RFC3339 or --duration from now)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var h admin.HoldView
			if err := a.do("POST", "/v1/holds/"+args[0]+"/extend", admin.HoldChangeRequest{Until: until, Duration: duration, Reason: reason}, &h); err != nil {
				return err
			}
			printHolds(cmd.OutOrStdout(), []admin.HoldView{h})
			return nil
		},
	}
	extend.Flags().StringVar(&until, "until", "", "new end (RFC 3339)")
	extend.Flags().StringVar(&duration, "duration", "", "new end, from now (30d, 6y, Go duration)")
	extend.Flags().StringVar(&reason, "reason", "", "why")
	release := &cobra.Command{
		Use: "release ID", Short: "release a hold (never below its compliance floor)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var h admin.HoldView
			if err := a.do("POST", "/v1/holds/"+args[0]+"/release", admin.HoldChangeRequest{Reason: reason}, &h); err != nil {
				return err
			}
			printHolds(cmd.OutOrStdout(), []admin.HoldView{h})
			return nil
		},
	}
	release.Flags().StringVar(&reason, "reason", "", "why")
	var listTenant string
	list := &cobra.Command{
		Use: "list", Short: "list holds", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var hs []admin.HoldView
			path := "/v1/holds"
			if listTenant != "" {
				path += "?tenant=" + listTenant
			}
			if err := a.do("GET", path, nil, &hs); err != nil {
				return err
			}
			printHolds(cmd.OutOrStdout(), hs)
			return nil
		},
	}
	list.Flags().StringVar(&listTenant, "tenant", "", "only this tenant's holds")
	c.AddCommand(place, extend, release, list)
	return c
}

func auditAdminCmd(a *adminClient) *cobra.Command {
	c := &cobra.Command{Use: "audit", Short: "the audit log"}
	var tenant string
	var since string
	var follow bool
	export := &cobra.Command{
		Use:   "export",
		Short: "stream audit records as JSON lines: a tenant's own (sign with --credentials) or the system's (admin token)",
		Long: `export writes audit records to stdout as JSON lines. Signed with a tenant's
credentials (--credentials FILE [--profile P]) it streams that tenant's
audit shard, object keys and bucket names readable; with the admin token it
streams the system audit shard, tenant ids replaced by opaque hashes.
--tenant names the tenant expected (checked against the credentials); with
the admin token, --tenant exports a crypto-shredded tenant's audit (its
targets stay sealed).
Every batch delivered advances the export watermark that event GC waits
for.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := "/v1/audit/export?since=" + url.QueryEscape(since)
			if follow {
				path += "&follow=1"
			}
			if tenant != "" {
				path += "&tenant=" + url.QueryEscape(tenant)
			}

			return a.stream("GET", path, cmd.OutOrStdout())
		},
	}
	export.Flags().StringVar(&tenant, "tenant", "", "tenant whose audit to export (needs its credentials)")
	export.Flags().StringVar(&since, "since", "1", "first record to export: a sequence number or an RFC 3339 time")
	export.Flags().BoolVar(&follow, "follow", false, "keep streaming new records")
	c.AddCommand(export)
	return c
}

// stream copies a streamed response to out.
func (a *adminClient) stream(method, path string, out io.Writer) error {
	body, err := a.open(method, path)
	if err != nil {
		return err
	}
	defer body.Close()
	_, err = io.Copy(out, body)
	return err
}

// open sends an authorized request without a client timeout (streams
// may run for hours) and returns the body of a successful response.
func (a *adminClient) open(method, path string) (io.ReadCloser, error) {
	req, err := http.NewRequest(method, strings.TrimSuffix(a.endpoint, "/")+path, nil)
	if err != nil {
		return nil, err
	}
	if err := a.authorize(req); err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		return nil, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return resp.Body, nil
}

// auditCmd is "annal audit": offline tools over a stopped node's data.
func auditCmd() *cobra.Command {
	c := &cobra.Command{Use: "audit", Short: "offline audit tools"}
	var dataDir, keyFlag string
	verify := &cobra.Command{
		Use:   "verify",
		Short: "check every audit chain in a data directory; exit 0 only when all verify",
		Long: `verify recomputes the hash chain of every audit shard (the system's and each
tenant's) from the event store and checks it against the stored links:
a record whose bytes changed, a missing record, a link out of order or a
head that does not match is reported with the first sequence where it
occurs. Works on a stopped node's data directory; needs the cluster key
only to open the at-rest encryption, never a tenant key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAuditVerify(cmd.OutOrStdout(), dataDir, keyFlag)
		},
	}
	verify.Flags().StringVar(&dataDir, "data", "annal-data", "data directory of a stopped server")
	verify.Flags().StringVar(&keyFlag, "cluster-key-file", "", "cluster key (default <data>/cluster.key)")
	c.AddCommand(verify)
	return c
}

func runAuditVerify(w io.Writer, dataDir, keyFlag string) error {
	store, _, err := openOffline(dataDir, keyFlag)
	if err != nil {
		return err
	}
	defer store.Close()
	shards, err := annallog.Shards(store)
	if err != nil {
		return err
	}
	broken, n := 0, 0
	for _, id := range shards {
		if k, _ := annallog.StoredKind(store, id); k != annallog.KindAudit {
			continue
		}
		n++
		rep, err := audit.VerifyChain(annallog.ProjectionReader(store, id), func(fn func(uint64, []byte) (bool, error)) error {
			return annallog.ReadEvents(store, id, 1, fn)
		})
		if err != nil {
			return fmt.Errorf("audit shard %d: %w", id, err)
		}
		name := "system"
		if id != commands.SystemAuditShard {
			name = fmt.Sprintf("tenant %d", id-commands.TenantAuditShardBase)
		}
		if rep.OK() {
			fmt.Fprintf(w, "audit shard %d (%s): %d records, chain intact, head %x\n", id, name, rep.Records, rep.Head[:8])
			continue
		}
		broken++
		fmt.Fprintf(w, "audit shard %d (%s): BROKEN at record %d: %s\n", id, name, rep.Break.Seq, rep.Break.Reason)
	}
	if broken > 0 {
		return exitError{code: 1, err: fmt.Errorf("%d of %d audit chains broken", broken, n)}
	}
	fmt.Fprintf(w, "%d audit chains verified\n", n)
	return nil
}
