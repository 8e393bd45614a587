// The frames pgtqd and its worker processes exchange (queue/worker_protocol.hpp), and their
// transport over a socketpair with descriptors (queue/worker_socket.hpp).
#include "queue/worker_protocol.hpp"
#include "queue/worker_socket.hpp"

#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

using namespace pgtq;
using namespace pgtq::queue::worker;

namespace {

std::vector<Message> samples() {
  Hello hello;
  hello.slot = 3;
  hello.queue = "emails";
  hello.log_level = "debug";
  hello.plugin_config_dir = "/etc/pgtq/plugins";
  hello.backoff = {.base_s = 0.5, .factor = 3, .cap_s = 60};
  hello.memory_limit_bytes = std::int64_t{256} << 20;
  hello.plugin_files = {"math.so", "", "sleep.so"};
  Finished finished;
  finished.id = 9223372036854775807;
  finished.status = queue::OutcomeStatus::snooze;
  finished.result = "null";
  finished.error = std::string("with\0nul", 8);
  finished.retry_in_s = 1e300;
  finished.duration_s = 0.25;
  finished.recycle = true;
  return {hello,
          Ready{{"add_numbers", "greet"}},
          Ready{},
          StartFailed{"plugin \"x.so\": init() returned 1"},
          Run{.id = 42,
              .name = "greet",
              .args = R"({"name": "Ada \u00e9"})",
              .attempt = 2,
              .max_attempts = 5,
              .timeout_s = 2.5,
              .seq = 0xfffffffe},
          finished,
          OutOfMemory{}};
}

// Each message equals what it was, field by field (variant's == compares them).
bool same(const Message& a, const Message& b) {
  if (a.index() != b.index()) {
    return false;
  }
  return encode(a) == encode(b);
}

std::vector<Message> read_all(FrameReader& reader) {
  std::vector<Message> messages;
  while (std::optional<Message> message = reader.next()) {
    messages.push_back(std::move(*message));
  }
  return messages;
}

std::string frame_of(std::uint8_t type, const std::string& payload) {
  const std::uint32_t size = static_cast<std::uint32_t>(payload.size() + 1);
  std::string frame;
  for (int i = 0; i < 4; ++i) {
    frame.push_back(static_cast<char>((size >> (8 * i)) & 0xff));
  }
  frame.push_back(static_cast<char>(type));
  return frame + payload;
}

} // namespace

TEST_CASE("every worker message survives encoding and decoding, field by field") {
  for (const Message& message : samples()) {
    CAPTURE(name_of(message));
    FrameReader reader;
    const std::string frame = encode(message);
    reader.append(frame.data(), frame.size());
    const std::optional<Message> decoded = reader.next();
    REQUIRE(decoded.has_value());
    CHECK(same(*decoded, message));
    CHECK_FALSE(reader.next().has_value());
    CHECK(reader.buffered() == 0);
  }
  // Spot checks that the comparison above compares something.
  const std::string frame = encode(Run{.id = 7, .name = "n", .args = "[]", .timeout_s = 0.5});
  FrameReader reader;
  reader.append(frame.data(), frame.size());
  const Run run = std::get<Run>(*reader.next());
  CHECK(run.id == 7);
  CHECK(run.name == "n");
  CHECK(run.args == "[]");
  CHECK(run.timeout_s == 0.5);
}

TEST_CASE("a frame layout: 4-byte little-endian length, then the type byte") {
  const std::string frame = encode(Run{.id = 0x0102030405060708, .seq = 0x0a0b0c0d});
  // type, id, name and args (empty: their lengths), attempt, max_attempts, timeout_s, seq,
  // then the flags of the absent parents and checkpoint
  REQUIRE(frame.size() == 4 + 1 + 8 + 4 + 4 + 4 + 4 + 8 + 4 + 1 + 1);
  CHECK(frame.substr(0, 4) == std::string("\x27\x00\x00\x00", 4));
  CHECK(frame[4] == 4);
  CHECK(frame.substr(5, 8) == "\x08\x07\x06\x05\x04\x03\x02\x01");
  CHECK(frame.substr(frame.size() - 6, 4) == "\x0d\x0c\x0b\x0a");
  CHECK(frame.substr(frame.size() - 2) == std::string("\x00\x00", 2));
}

TEST_CASE("parents, checkpoints, progress and follow-ups cross the socket as they were") {
  const auto round_trip = [](const Message& message) {
    FrameReader reader;
    const std::string frame = encode(message);
    reader.append(frame.data(), frame.size());
    std::optional<Message> back = reader.next();
    REQUIRE(back.has_value());
    CHECK(reader.buffered() == 0);
    return *back;
  };
  const Run run = std::get<Run>(
      round_trip(Run{.id = 1, .parents = R"([{"id": 2}])", .checkpoint = R"({"done": 5})"}));
  CHECK(run.parents == R"([{"id": 2}])");
  CHECK(run.checkpoint == R"({"done": 5})");
  CHECK_FALSE(std::get<Run>(round_trip(Run{.id = 1})).checkpoint.has_value());
  const Finished finished = std::get<Finished>(round_trip(
      Finished{.id = 3, .progress = "1", .followups = {R"({"task": "a"})", R"({"task": "b"})"}}));
  CHECK(finished.progress == "1");
  CHECK_FALSE(finished.checkpoint.has_value());
  CHECK(finished.followups == std::vector<std::string>{R"({"task": "a"})", R"({"task": "b"})"});
  const Report report = std::get<Report>(
      round_trip(Report{.id = 4, .seq = 9, .kind = Report::Kind::checkpoint, .json = "[1]"}));
  CHECK(report.id == 4);
  CHECK(report.seq == 9);
  CHECK(report.kind == Report::Kind::checkpoint);
  CHECK(report.json == "[1]");
  // A report of a kind no pgtqd knows is a broken peer.
  std::string bad = encode(Report{.id = 4, .json = "[1]"});
  bad[4 + 1 + 8 + 4] = 2;
  FrameReader reader;
  reader.append(bad.data(), bad.size());
  CHECK_THROWS_AS(reader.next(), ProtocolError);
}

TEST_CASE("the reader cuts a stream into the same messages wherever the reads split it") {
  std::string stream;
  for (const Message& message : samples()) {
    stream += encode(message);
  }
  const std::size_t count = samples().size();
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    FrameReader reader;
    reader.append(stream.data(), cut);
    std::vector<Message> got = read_all(reader);
    reader.append(stream.data() + cut, stream.size() - cut);
    for (Message& message : read_all(reader)) {
      got.push_back(std::move(message));
    }
    REQUIRE(got.size() == count);
  }
  // One byte at a time.
  FrameReader reader;
  std::vector<Message> got;
  for (const char byte : stream) {
    reader.append(&byte, 1);
    for (Message& message : read_all(reader)) {
      got.push_back(std::move(message));
    }
  }
  REQUIRE(got.size() == count);
  for (std::size_t i = 0; i < count; ++i) {
    CHECK(same(got[i], samples()[i]));
  }
}

TEST_CASE("a bad frame is a ProtocolError, never a message") {
  auto reads = [](const std::string& bytes) {
    FrameReader reader;
    reader.append(bytes.data(), bytes.size());
    return reader.next();
  };
  CHECK_THROWS_AS(reads(std::string(4, '\0')), ProtocolError);               // empty frame
  CHECK_THROWS_AS(reads(std::string("\xff\xff\xff\x7f", 4)), ProtocolError); // over the limit
  CHECK_THROWS_AS(reads(frame_of(99, "")), ProtocolError);                   // unknown type
  CHECK_THROWS_AS(reads(frame_of(5, "1234567")), ProtocolError);             // field cut short
  CHECK_THROWS_AS(reads(frame_of(5, "123456789")), ProtocolError);           // a byte left over
  CHECK_THROWS_AS(reads(frame_of(3, std::string("\x10\x00\x00\x00short", 9))), ProtocolError);
  CHECK_THROWS_AS(reads(frame_of(2, std::string("\xff\xff\xff\xff", 4))), ProtocolError);
  std::string finished = encode(Finished{.id = 1});
  finished[4 + 1 + 8] = 9; // the status byte
  CHECK_THROWS_AS(reads(finished), ProtocolError);
  finished = encode(Finished{.id = 1});
  finished.back() = 2; // recycle is 0 or 1
  CHECK_THROWS_AS(reads(finished), ProtocolError);
  // An incomplete frame is not an error: more may come.
  const std::string run = encode(Run{.id = 1});
  CHECK_FALSE(reads(run.substr(0, run.size() - 1)).has_value());
  // Doubles keep every bit, NaN and infinities included.
  FrameReader reader;
  const std::string nan_run = encode(Run{.timeout_s = std::numeric_limits<double>::quiet_NaN()});
  reader.append(nan_run.data(), nan_run.size());
  CHECK(std::isnan(std::get<Run>(*reader.next()).timeout_s));
}

TEST_CASE("frames and descriptors cross a socketpair, large frames whole") {
  int ends[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) == 0);
  plugin::UniqueFd left(ends[0]);
  plugin::UniqueFd right(ends[1]);
  int pipe_ends[2];
  REQUIRE(::pipe(pipe_ends) == 0);
  plugin::UniqueFd pipe_read(pipe_ends[0]);
  plugin::UniqueFd pipe_write(pipe_ends[1]);

  Hello hello;
  hello.slot = 1;
  hello.plugin_files = {"pipe"};
  // A Run of 1 MiB of args, beyond a socket buffer: the writer must not block on the reader,
  // so it runs on a thread of its own.
  const std::string big(1 << 20, 'x');
  std::thread writer([&] {
    send_frame(left.get(), encode(hello), {pipe_write.get()});
    send_frame(left.get(), encode(Run{.id = 5, .args = big}));
    left = plugin::UniqueFd(); // end of file next
  });
  FrameReader reader;
  std::vector<plugin::UniqueFd> fds;
  std::vector<Message> got;
  while (read_into(right.get(), reader, &fds)) {
    for (Message& message : read_all(reader)) {
      got.push_back(std::move(message));
    }
  }
  writer.join();
  REQUIRE(got.size() == 2);
  CHECK(std::get<Hello>(got[0]).plugin_files == std::vector<std::string>{"pipe"});
  CHECK(std::get<Run>(got[1]).args == big);
  REQUIRE(fds.size() == 1);
  // The descriptor that came is the pipe's write end: what is written to it comes out.
  REQUIRE(::write(fds[0].get(), "!", 1) == 1);
  char byte = 0;
  REQUIRE(::read(pipe_read.get(), &byte, 1) == 1);
  CHECK(byte == '!');
}
