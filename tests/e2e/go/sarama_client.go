// Command sarama_client drives Debian's Sarama (golang-github-shopify-sarama-dev 1.22.1) against
// a Kafka broker for Strom's end-to-end tests (tests/e2e/test_kafka_sarama.py).
//
// Built with GO111MODULE=off GOPATH=/usr/share/gocode. Modes, each printing one JSON object per
// record on stdout:
//
//	produce  <brokers> <topic> <count> <codec>  keys k-<i>, values v-<i>; prints {p, o} per record
//	consume  <brokers> <topic> <count>          every partition from the oldest offset
//	group    <brokers> <topic> <count> <group>  a consumer group member; marks and commits
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Shopify/sarama"
)

type record struct {
	Partition int32  `json:"p"`
	Offset    int64  `json:"o"`
	Key       string `json:"k,omitempty"`
	Value     string `json:"v,omitempty"`
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "sarama_client: "+format+"\n", args...)
	os.Exit(1)
}

func config() *sarama.Config {
	cfg := sarama.NewConfig()
	// 2.1 makes Sarama speak v2 record batches (>= 0.11) with zstd allowed.
	cfg.Version = sarama.V2_1_0_0
	cfg.ClientID = "strom-e2e-sarama"
	cfg.Metadata.Retry.Max = 10
	cfg.Metadata.Retry.Backoff = 200 * time.Millisecond
	return cfg
}

func emit(out *json.Encoder, r record) {
	if err := out.Encode(r); err != nil {
		fail("write: %v", err)
	}
}

func codec(name string) sarama.CompressionCodec {
	switch name {
	case "none":
		return sarama.CompressionNone
	case "gzip":
		return sarama.CompressionGZIP
	case "snappy":
		return sarama.CompressionSnappy
	case "lz4":
		return sarama.CompressionLZ4
	case "zstd":
		return sarama.CompressionZSTD
	}
	fail("unknown codec %q", name)
	return sarama.CompressionNone
}

func produce(brokers []string, topic string, count int, codecName string, out *json.Encoder) {
	cfg := config()
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Compression = codec(codecName)
	cfg.Producer.Retry.Max = 10
	producer, err := sarama.NewSyncProducer(brokers, cfg)
	if err != nil {
		fail("producer: %v", err)
	}
	defer producer.Close()
	msgs := make([]*sarama.ProducerMessage, 0, count)
	for i := 0; i < count; i++ {
		msgs = append(msgs, &sarama.ProducerMessage{
			Topic: topic,
			Key:   sarama.StringEncoder(fmt.Sprintf("k-%d", i)),
			Value: sarama.StringEncoder(fmt.Sprintf("v-%d", i)),
		})
	}
	if err := producer.SendMessages(msgs); err != nil {
		if errs, ok := err.(sarama.ProducerErrors); ok && len(errs) > 0 {
			fail("produce: %d failed, the first: %v", len(errs), errs[0].Err)
		}
		fail("produce: %v", err)
	}
	for _, m := range msgs {
		emit(out, record{Partition: m.Partition, Offset: m.Offset})
	}
}

func consume(brokers []string, topic string, count int, out *json.Encoder) {
	consumer, err := sarama.NewConsumer(brokers, config())
	if err != nil {
		fail("consumer: %v", err)
	}
	defer consumer.Close()
	partitions, err := consumer.Partitions(topic)
	if err != nil {
		fail("partitions: %v", err)
	}
	records := make(chan record)
	for _, p := range partitions {
		pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			fail("consume partition %d: %v", p, err)
		}
		defer pc.Close()
		go func(pc sarama.PartitionConsumer) {
			for m := range pc.Messages() {
				records <- record{m.Partition, m.Offset, string(m.Key), string(m.Value)}
			}
		}(pc)
	}
	collect(records, count, out)
}

// collect writes records until `count` arrived; a minute without them all is a failure.
func collect(records <-chan record, count int, out *json.Encoder) {
	deadline := time.After(60 * time.Second)
	for seen := 0; seen < count; seen++ {
		select {
		case r := <-records:
			emit(out, r)
		case <-deadline:
			fail("timed out after %d of %d records", seen, count)
		}
	}
}

type handler struct {
	records chan<- record
	ready   sync.Once
}

func (h *handler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *handler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		s.MarkMessage(m, "")
		h.records <- record{m.Partition, m.Offset, string(m.Key), string(m.Value)}
	}
	return nil
}

func group(brokers []string, topic string, count int, groupID string, out *json.Encoder) {
	cfg := config()
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.CommitInterval = 100 * time.Millisecond
	// Sarama 1.22 commits with OffsetCommit v1 unless a retention is set, and v0-v1 are gone
	// from Kafka 4.0 (KIP-896) as from Strom; with a retention it sends v2.
	cfg.Consumer.Offsets.Retention = 24 * time.Hour
	cg, err := sarama.NewConsumerGroup(brokers, groupID, cfg)
	if err != nil {
		fail("consumer group: %v", err)
	}
	go func() {
		for err := range cg.Errors() {
			fmt.Fprintf(os.Stderr, "sarama_client: group error: %v\n", err)
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	records := make(chan record, count)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{topic}, &handler{records: records}); err != nil {
				fmt.Fprintf(os.Stderr, "sarama_client: consume: %v\n", err)
				time.Sleep(200 * time.Millisecond)
			}
		}
	}()
	collect(records, count, out)
	// The marked offsets are committed every CommitInterval while the session lives.
	time.Sleep(time.Second)
	cancel()
	<-done
	if err := cg.Close(); err != nil {
		fail("close: %v", err)
	}
}

func main() {
	if len(os.Args) < 5 {
		fail("usage: produce|consume|group <brokers> <topic> <count> [codec|group]")
	}
	mode, brokers, topic := os.Args[1], strings.Split(os.Args[2], ","), os.Args[3]
	count, err := strconv.Atoi(os.Args[4])
	if err != nil {
		fail("count: %v", err)
	}
	out := json.NewEncoder(os.Stdout)
	switch {
	case mode == "produce" && len(os.Args) == 6:
		produce(brokers, topic, count, os.Args[5], out)
	case mode == "consume" && len(os.Args) == 5:
		consume(brokers, topic, count, out)
	case mode == "group" && len(os.Args) == 6:
		group(brokers, topic, count, os.Args[5], out)
	default:
		fail("unknown mode or arguments: %v", os.Args[1:])
	}
}
