// Command sarama_bench produces fixed-size records with Debian's Sarama 1.22.1 for Strom's TLS
// benchmark (tests/bench/tls_bench.py --client sarama): a client whose TLS writes are whole
// 16 KiB records (Go's crypto/tls), beside librdkafka's.
//
//	sarama_bench <bootstrap> <topic> <count> <size> [ca-file]
//
// With a CA file it connects over TLS and verifies the server against it. Prints the elapsed
// seconds from the first record handed to Sarama to the last acknowledged, as JSON.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/Shopify/sarama"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "sarama_bench: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 5 {
		fail("usage: sarama_bench <bootstrap> <topic> <count> <size> [ca-file]")
	}
	count, err := strconv.Atoi(os.Args[3])
	if err != nil {
		fail("count: %v", err)
	}
	size, err := strconv.Atoi(os.Args[4])
	if err != nil {
		fail("size: %v", err)
	}
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_1_0_0
	cfg.ClientID = "strom-bench-sarama"
	cfg.Producer.RequiredAcks = sarama.WaitForLocal
	cfg.Producer.Return.Successes = true
	// As the librdkafka side: batches of up to 1 MB, sent at the latest 5 ms after the first.
	cfg.Producer.Flush.Bytes = 1000000
	cfg.Producer.Flush.Frequency = 5 * time.Millisecond
	cfg.Producer.MaxMessageBytes = 1000000
	cfg.ChannelBufferSize = 4096
	if len(os.Args) > 5 {
		pem, err := os.ReadFile(os.Args[5])
		if err != nil {
			fail("ca: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			fail("ca: no certificate")
		}
		cfg.Net.TLS.Enable = true
		cfg.Net.TLS.Config = &tls.Config{RootCAs: pool, ServerName: "localhost"}
	}
	producer, err := sarama.NewAsyncProducer([]string{os.Args[1]}, cfg)
	if err != nil {
		fail("producer: %v", err)
	}
	value := sarama.ByteEncoder(make([]byte, size))
	done := make(chan int)
	go func() {
		acked := 0
		for acked < count {
			select {
			case <-producer.Successes():
				acked++
			case e := <-producer.Errors():
				fail("produce: %v", e.Err)
			}
		}
		done <- acked
	}()
	start := time.Now()
	for i := 0; i < count; i++ {
		producer.Input() <- &sarama.ProducerMessage{Topic: os.Args[2], Value: value}
	}
	<-done
	elapsed := time.Since(start).Seconds()
	if err := producer.Close(); err != nil {
		fail("close: %v", err)
	}
	out, _ := json.Marshal(map[string]float64{"seconds": elapsed})
	fmt.Println(string(out))
}
