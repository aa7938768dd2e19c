// Command benchproxy is scripts/bench.sh's "fiber" target: fiber's own
// proxy middleware (proxy.Do, pooled keep-alive connections) in front of
// the benchmark's upstream, with nothing else — no token check, routing,
// limits, validation or audit. It measures the floor of a fiber-based
// gateway on the machine the benchmark runs on, so that obhub's figures
// can be read against the framework's as well as against nginx's.
//
//	go run ./scripts/benchproxy 127.0.0.1:18911 http://127.0.0.1:18901
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/proxy"
)

func main() {
	if len(os.Args) != 3 || !strings.HasPrefix(os.Args[2], "http://") {
		fmt.Fprintln(os.Stderr, "usage: benchproxy LISTEN-ADDR http://UPSTREAM")
		os.Exit(2)
	}
	upstream := strings.TrimSuffix(os.Args[2], "/")
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Use(func(c *fiber.Ctx) error { return proxy.Do(c, upstream+c.OriginalURL()) })
	if err := app.Listen(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "benchproxy:", err)
		os.Exit(1)
	}
}
