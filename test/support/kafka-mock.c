/*
 * A Kafka cluster for tests and benchmarks: librdkafka's mock cluster, which speaks the
 * real Kafka wire protocol (produce, fetch, consumer groups, offset commits) in memory.
 *
 *   kafka-mock [--brokers N] TOPIC[:PARTITIONS] ...
 *
 * Creates each topic (the mock does not implement CreateTopics), prints the bootstrap
 * address list as one line on stdout, then lives until stdin is closed (so the cluster
 * dies with the process that started it, even when that process is killed).
 *
 * Built by test/support/kafka-mock.ts with `cc $(pkg-config --cflags --libs rdkafka)`.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void die(const char *what, const char *detail) {
  fprintf(stderr, "kafka-mock: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  exit(1);
}

int main(int argc, char **argv) {
  int brokers = 1;
  int first_topic = 1;
  char errstr[512];

  signal(SIGPIPE, SIG_IGN);
  if (argc > 2 && strcmp(argv[1], "--brokers") == 0) {
    brokers = atoi(argv[2]);
    if (brokers < 1 || brokers > 16) die("--brokers must be 1..16", argv[2]);
    first_topic = 3;
  }

  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  /* The handle only hosts the mock cluster's threads; it never talks to a broker. */
  if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
    die("conf", errstr);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!rk) die("rd_kafka_new", errstr);

  rd_kafka_mock_cluster_t *mcluster = rd_kafka_mock_cluster_new(rk, brokers);
  if (!mcluster) die("rd_kafka_mock_cluster_new failed", NULL);

  for (int i = first_topic; i < argc; i++) {
    char name[256];
    int partitions = 1;
    const char *colon = strrchr(argv[i], ':');
    size_t len = colon ? (size_t)(colon - argv[i]) : strlen(argv[i]);
    if (len == 0 || len >= sizeof name) die("bad topic name", argv[i]);
    memcpy(name, argv[i], len);
    name[len] = '\0';
    if (colon) {
      partitions = atoi(colon + 1);
      if (partitions < 1 || partitions > 1024) die("bad partition count", argv[i]);
    }
    rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mcluster, name, partitions, 1);
    if (err) die("rd_kafka_mock_topic_create", rd_kafka_err2str(err));
  }

  printf("%s\n", rd_kafka_mock_cluster_bootstraps(mcluster));
  fflush(stdout);

  /* Live until stdin closes (EOF or error). */
  char buf[256];
  for (;;) {
    ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n <= 0) break;
  }

  rd_kafka_mock_cluster_destroy(mcluster);
  rd_kafka_destroy(rk);
  return 0;
}
