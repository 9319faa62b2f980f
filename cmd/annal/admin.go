package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/annal-storage/annal/gateways/admin"
	"github.com/spf13/cobra"
)

type adminClient struct {
	endpoint  string
	tokenFile string
	// credentials and profile: act as a tenant admin (SigV4) instead.
	credentials, profile string
}

func (a *adminClient) do(method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, strings.TrimSuffix(a.endpoint, "/")+path, rd)
	if err != nil {
		return err
	}
	if err := a.authorize(req); err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e struct{ Error string }
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s: %s", resp.Status, e.Error)
		}
		return fmt.Errorf("%s", resp.Status)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

func adminCmd() *cobra.Command {
	a := &adminClient{}
	c := &cobra.Command{Use: "admin", Short: "operate a running cluster through the admin API"}
	c.PersistentFlags().StringVar(&a.endpoint, "endpoint", "http://127.0.0.1:9090", "admin API endpoint")
	c.PersistentFlags().StringVar(&a.tokenFile, "token-file", filepath.Join("annal-data", "admin-token"), "file holding the admin token")
	c.PersistentFlags().StringVar(&a.credentials, "credentials", "", "act as a tenant admin: AWS shared-credentials file of the tenant")
	c.PersistentFlags().StringVar(&a.profile, "profile", "default", "profile in --credentials")
	c.AddCommand(&cobra.Command{
		Use:   "status",
		Short: "show the node and its shards",
		RunE: func(cmd *cobra.Command, _ []string) error {
			var st admin.Status
			if err := a.do("GET", "/v1/status", nil, &st); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "node %d  version %s  ready %v\n", st.NodeID, st.Version, st.Ready)
			fmt.Fprintf(w, "%-8s %-10s %-7s %s\n", "SHARD", "KIND", "LEADER", "EVENTS")
			for _, s := range st.Shards {
				halted := ""
				if s.Halted != "" {
					halted = "  HALTED: " + s.Halted
				}
				fmt.Fprintf(w, "%-8d %-10s %-7d %d%s\n", s.ID, s.Kind, s.Leader, s.LastSeq, halted)
			}
			return nil
		},
	})
	c.AddCommand(tenantCmd(a), scrubCmd(a), gcCmd(a), holdCmd(a), auditAdminCmd(a), keysCmd(a))
	return c
}

func tenantCmd(a *adminClient) *cobra.Command {
	c := &cobra.Command{Use: "tenant", Short: "manage tenants"}
	var org, project, workload string
	var compliance []string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "create a tenant and print its credentials (AWS shared-credentials format)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out admin.CreateTenantResponse
			req := admin.CreateTenantRequest{Name: args[0], Org: org, Project: project, Workload: workload, Compliance: compliance}
			if err := a.do("POST", "/v1/tenants", req, &out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n", out.Tenant.Name, out.AccessKeyID, out.SecretAccessKey)
			return nil
		},
	}
	create.Flags().StringVar(&org, "org", "", "organisation (default: the tenant name)")
	create.Flags().StringVar(&project, "project", "", "project")
	create.Flags().StringVar(&workload, "workload", "", "workload")
	create.Flags().StringSliceVar(&compliance, "compliance", nil, "compliance tags (HIPAA, GDPR, revFADP, custom)")
	list := &cobra.Command{
		Use:   "list",
		Short: "list tenants",
		RunE: func(cmd *cobra.Command, _ []string) error {
			var ts []admin.TenantView
			if err := a.do("GET", "/v1/tenants", nil, &ts); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%-6s %-20s %-20s %s\n", "ID", "NAME", "ORG", "COMPLIANCE")
			for _, t := range ts {
				fmt.Fprintf(w, "%-6d %-20s %-20s %s\n", t.ID, t.Name, t.Org, strings.Join(t.Compliance, ","))
			}
			return nil
		},
	}
	c.AddCommand(create, list)
	c.AddCommand(tenantComplianceCmds(a)...)
	return c
}
