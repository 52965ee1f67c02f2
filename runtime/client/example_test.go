package client_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vexilhq/vexil/runtime/client"
	flags "github.com/vexilhq/vexil/runtime/client/internal/testflags"
)

// A service following `vexil serve`, with a last-known-good cache, metrics
// and exposure events, and generated accessors reading the client.
func Example() {
	exposures, err := client.OpenJSONLinesFile("/var/log/app/exposures.jsonl")
	if err != nil {
		log.Fatal(err)
	}
	c, err := client.New(context.Background(), client.Options{
		Definitions: flags.Definitions(), // what this binary was generated from
		Source: client.Server(client.ServerOptions{
			URL: "http://127.0.0.1:8080", Environment: "prod", Token: "vxl_...", // an sdk token
		}),
		CacheFile:    "/var/cache/app/vexil.json",
		StartTimeout: 2 * time.Second,
		Registerer:   prometheus.DefaultRegisterer,
		Exposures:    client.ExposureOptions{Exporter: exposures}, // experiment flags by default
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ff := flags.New(c)

	// In a request handler: no network, no lock, no allocation.
	v := ff.For(context.Background(), flags.Target{UserID: "u-7", Role: flags.RoleTeacher})
	fmt.Println(v.Workbook(), c.Status().Origin)
}
