package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/annal-storage/annal/cmd/annal/server"
	"github.com/annal-storage/annal/gateways/s3"
	"github.com/spf13/cobra"
)

func serverCmd() *cobra.Command {
	var cfg server.Config
	var peers string
	var logLevel string
	c := &cobra.Command{
		Use:   "server",
		Short: "run a node (zero configuration: single node in ./annal-data)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			server.TuneProcess()
			var err error
			if cfg.Peers, err = parsePeers(peers); err != nil {
				return err
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level: %w", err)
			}
			cfg.Logger = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			cfg.Out = os.Stdout
			cfg.S3Handler = s3.NewHandler
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			node, err := server.Start(ctx, cfg)
			if err != nil {
				return err
			}
			<-ctx.Done()
			fmt.Fprintln(os.Stdout, "annal: shutting down")
			return node.Close()
		},
	}
	f := c.Flags()
	f.StringVar(&cfg.DataDir, "data", "annal-data", "data directory")
	f.StringVar(&cfg.S3Addr, "s3-addr", "127.0.0.1:9000", "S3 listen address")
	f.StringVar(&cfg.AdminAddr, "admin-addr", "127.0.0.1:9090", "admin API and /metrics listen address")
	f.StringVar(&cfg.APIAddr, "api-addr", "127.0.0.1:9100", "native API listen address")
	f.StringVar(&cfg.RaftAddr, "raft-addr", "127.0.0.1:9200", "Raft transport address")
	f.Uint64Var(&cfg.NodeID, "node-id", 1, "this node's id (1..N) in the cluster")
	f.StringVar(&peers, "peers", "", "every node's Raft address: 1=host:port,2=host:port,... (default: this node alone)")
	f.StringVar(&cfg.ClusterKeyFile, "cluster-key-file", "", "cluster key, 64 hex digits, the same on every node (default <data>/cluster.key, created on first start)")
	f.IntVar(&cfg.Devices, "devices", 6, "number of directory devices under <data>/devices")
	f.IntVar(&cfg.InlineThreshold, "inline-threshold", 4096, "objects of at most this many bytes ride inline in events (128..65536)")
	f.StringVar(&cfg.TLSCert, "tls-cert", "", "TLS certificate file (serves TLS on every listener when set)")
	f.StringVar(&cfg.TLSKey, "tls-key", "", "TLS key file")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	lifecycleFlags(c, &cfg)
	keyFlags(c, &cfg)
	return c
}

// parsePeers parses "1=host:port,2=host:port".
func parsePeers(s string) (map[uint64]string, error) {
	if s == "" {
		return nil, nil
	}
	out := map[uint64]string{}
	for _, part := range strings.Split(s, ",") {
		id, addr, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.ParseUint(id, 10, 64)
		if !ok || err != nil || n == 0 || addr == "" {
			return nil, fmt.Errorf("--peers: %q is not id=host:port", part)
		}
		out[n] = addr
	}
	return out, nil
}
