// vbench-load: the benchmark's workloads. Each does its work itself (no shell in the loop), times it
// with CLOCK_MONOTONIC and prints one JSON line:
//   {"workload":..., "ops":..., "elapsed_ns":..., "failures":..., "expected":{"EXEC":..,...}}
// `expected` counts the events of the kinds that exist today which this process tree must cause
// (its own exec and exit included), so the harness can check delivery per kind. Kinds of families
// that do not exist yet are not listed; the harness also checks delivery against what the sensor
// itself saw in the kernel, which covers every kind without knowing it here.
//
//   vbench-load exec  --n N [--path /bin/true]
//   vbench-load file  --n N --dir DIR [--size BYTES]
//   vbench-load net   --n N [--addr 127.0.0.1] [--clients 4] [--servers 2]
//   vbench-load dns   --n N [--server 127.0.0.77] [--port 53] [--domain vbench.test] [--parallel 4]
//   vbench-load mixed --exec-n N --file-n N --net-n N --dns-n N --dir DIR --dir2 DIR [--server IP]
//   vbench-load rate  --op exec|fork|thread|file|net --rate OPS_PER_S --seconds S [--workers W] [--dir DIR]
//
// `rate` paces its operations on an absolute schedule and reports how far behind it fell: when it
// cannot keep the schedule, the generator (not the sensor) is the limit.
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <resolv.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "vbench-load: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

struct Options {
  std::map<std::string, std::string> values;
  std::string get(const std::string& key, const std::string& fallback = "") const {
    auto it = values.find(key);
    return it == values.end() ? fallback : it->second;
  }
  long num(const std::string& key, long fallback) const {
    auto it = values.find(key);
    return it == values.end() ? fallback : std::strtol(it->second.c_str(), nullptr, 10);
  }
  double real(const std::string& key, double fallback) const {
    auto it = values.find(key);
    return it == values.end() ? fallback : std::strtod(it->second.c_str(), nullptr);
  }
};

// Events (by EventKind name without the EVENT_KIND_ prefix) a piece of work must cause.
using Expected = std::map<std::string, uint64_t>;

struct Result {
  uint64_t ops = 0;
  uint64_t failures = 0;
  Expected expected;
};

// ---- exec storm: fork + exec /bin/true ------------------------------------------------------------

bool exec_once(const char* path) {
  char* const argv[] = {const_cast<char*>("true"), nullptr};
  const pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    execve(path, argv, environ);
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

Result run_exec(long n, const std::string& path) {
  Result r;
  for (long i = 0; i < n; ++i) {
    if (!exec_once(path.c_str())) ++r.failures;
    ++r.ops;
  }
  r.expected = {{"EXEC", r.ops - r.failures}, {"FORK", r.ops}, {"EXIT", r.ops}};
  return r;
}

// ---- file storm: create, write, rename, unlink --------------------------------------------------

// Each process cycles through this many names. An unlink leaves a negative dentry for its name, and
// a name per iteration grew the dentry cache without bound: 28 million negative dentries after a day
// of runs here, which made every path lookup on the machine slower (the bare file storm took 1.7 s
// instead of 0.9 s) and each run slower than the one before.
constexpr long kFileNames = 1024;

bool file_once(const std::string& dir, long i, const char* data, size_t size) {
  char a[512], b[512];
  std::snprintf(a, sizeof a, "%s/f%ld-%d.tmp", dir.c_str(), i % kFileNames, getpid());
  std::snprintf(b, sizeof b, "%s/g%ld-%d.dat", dir.c_str(), i % kFileNames, getpid());
  const int fd = open(a, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  const bool wrote = write(fd, data, size) == static_cast<ssize_t>(size);
  close(fd);
  const bool renamed = rename(a, b) == 0;
  const bool unlinked = unlink(renamed ? b : a) == 0;
  return wrote && renamed && unlinked;
}

// `watched`: the directory is on the sensor's watch list, so each iteration must cause four file
// events: create (the open), modify (write + close), rename and delete.
Result run_file(long n, const std::string& dir, size_t size, bool watched) {
  if (dir.empty()) {
    errno = EINVAL;
    die("file: --dir is required");
  }
  std::vector<char> data(size, 'v');
  Result r;
  for (long i = 0; i < n; ++i) {
    if (!file_once(dir, i, data.data(), data.size())) ++r.failures;
    ++r.ops;
  }
  if (watched) r.expected["FILE"] = 4 * (r.ops - r.failures);
  return r;
}

// ---- network storm: TCP connect / accept / close on loopback ------------------------------------

struct Listener {
  int fd = -1;
  sockaddr_in address{};
};

Listener listen_on(const std::string& addr) {
  Listener l;
  l.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (l.fd < 0) die("socket");
  const int one = 1;
  setsockopt(l.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  l.address.sin_family = AF_INET;
  l.address.sin_port = 0;
  if (inet_pton(AF_INET, addr.c_str(), &l.address.sin_addr) != 1) die("net: bad --addr");
  if (bind(l.fd, reinterpret_cast<sockaddr*>(&l.address), sizeof l.address) != 0) die("bind");
  if (listen(l.fd, 1024) != 0) die("listen");
  socklen_t len = sizeof l.address;
  getsockname(l.fd, reinterpret_cast<sockaddr*>(&l.address), &len);
  return l;
}

// Accepts `n` connections (or until the listener is shut down), sends one byte on each and closes it.
void serve(int listen_fd, long n) {
  for (long i = 0; n < 0 || i < n; ++i) {
    const int c = accept(listen_fd, nullptr, nullptr);
    if (c < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // shut down
    }
    const char byte = 'v';
    (void)!write(c, &byte, 1);
    close(c);
  }
}

// The client closes with an RST (SO_LINGER 0) after the server's FIN, so neither side keeps a
// TIME_WAIT socket: tens of thousands of connections per round would otherwise exhaust the
// ephemeral ports across rounds.
bool connect_once(const sockaddr_in& to) {
  const int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return false;
  bool ok = connect(s, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0;
  if (ok) {
    char byte = 0;
    ok = read(s, &byte, 1) == 1;
  }
  const linger abort_close{1, 0};
  setsockopt(s, SOL_SOCKET, SO_LINGER, &abort_close, sizeof abort_close);
  close(s);
  return ok;
}

// `clients` threads connect at the same time and `servers` threads accept, so the machine is kept busy
// instead of ping-ponging between two threads, whose speed would then depend mostly on how fast an
// idle vCPU wakes up.
Result run_net(long n, const std::string& addr, int clients, int servers) {
  Listener l = listen_on(addr);
  std::vector<std::thread> server_threads;
  for (int i = 0; i < servers; ++i) server_threads.emplace_back([&] { serve(l.fd, -1); });
  std::vector<Result> results(static_cast<size_t>(clients));
  std::vector<std::thread> client_threads;
  for (int c = 0; c < clients; ++c) {
    client_threads.emplace_back([&, c] {
      const long share = n / clients + (c < n % clients ? 1 : 0);
      for (long i = 0; i < share; ++i) {
        if (!connect_once(l.address)) ++results[c].failures;
        ++results[c].ops;
      }
    });
  }
  for (auto& t : client_threads) t.join();
  shutdown(l.fd, SHUT_RDWR);
  for (auto& t : server_threads) t.join();
  close(l.fd);
  Result r;
  for (const auto& x : results) {
    r.ops += x.ops;
    r.failures += x.failures;
  }
  return r;
}

// ---- DNS storm: lookups through glibc's resolver against a local dnsmasq ------------------------

struct Resolver {
  struct __res_state state {};
  explicit Resolver(const std::string& server, int port) {
    if (res_ninit(&state) != 0) die("res_ninit");
    sockaddr_in ns{};
    ns.sin_family = AF_INET;
    ns.sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, server.c_str(), &ns.sin_addr) != 1) die("dns: bad --server");
    state.nscount = 1;
    state.nsaddr_list[0] = ns;
    state.retrans = 1;
    state.retry = 2;
    state.options &= ~(RES_DNSRCH | RES_DEFNAMES);
  }
  ~Resolver() { res_nclose(&state); }
  bool lookup(const std::string& name) {
    unsigned char answer[NS_PACKETSZ];
    return res_nquery(&state, name.c_str(), ns_c_in, ns_t_a, answer, sizeof answer) > 0;
  }
};

// `parallel` threads, each with its own resolver state, look up at the same time (see run_net).
Result run_dns(long n, const std::string& server, int port, const std::string& domain, int parallel) {
  std::vector<Result> results(static_cast<size_t>(parallel));
  std::vector<std::thread> threads;
  for (int t = 0; t < parallel; ++t) {
    threads.emplace_back([&, t] {
      Resolver resolver(server, port);
      const long share = n / parallel + (t < n % parallel ? 1 : 0);
      for (long i = 0; i < share; ++i) {
        if (!resolver.lookup("h" + std::to_string((i * parallel + t) % 997) + "." + domain)) ++results[t].failures;
        ++results[t].ops;
      }
    });
  }
  for (auto& th : threads) th.join();
  Result r;
  for (const auto& x : results) {
    r.ops += x.ops;
    r.failures += x.failures;
  }
  return r;
}

// ---- mixed: all of the above at once, one child process each ------------------------------------

struct Child {
  pid_t pid;
  int pipe_fd;
};

// Runs `work` in a forked child (no exec) that writes its Result back through a pipe.
template <typename Work>
Child spawn(Work work) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) die("pipe");
  const pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    close(fds[0]);
    Result r = work();
    std::string line = std::to_string(r.ops) + " " + std::to_string(r.failures);
    for (const auto& [kind, count] : r.expected) line += " " + kind + "=" + std::to_string(count);
    line += "\n";
    (void)!write(fds[1], line.data(), line.size());
    _exit(0);
  }
  close(fds[1]);
  return {pid, fds[0]};
}

Result collect(const Child& child) {
  std::string text;
  char buf[512];
  ssize_t got;
  while ((got = read(child.pipe_fd, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(got));
  close(child.pipe_fd);
  int status = 0;
  waitpid(child.pid, &status, 0);
  Result r;
  char* p = text.data();
  r.ops = std::strtoull(p, &p, 10);
  r.failures = std::strtoull(p, &p, 10);
  while (*p == ' ') {
    ++p;
    char* eq = std::strchr(p, '=');
    if (!eq) break;
    std::string kind(p, eq);
    r.expected[kind] = std::strtoull(eq + 1, &p, 10);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++r.failures;
  return r;
}

Result run_mixed(const Options& o) {
  std::vector<Child> children;
  const long exec_n = o.num("exec-n", 1000), file_n = o.num("file-n", 10000), net_n = o.num("net-n", 5000),
             dns_n = o.num("dns-n", 2000);
  const std::string dir = o.get("dir"), dir2 = o.get("dir2");
  const size_t size = static_cast<size_t>(o.num("size", 512));
  if (exec_n > 0) children.push_back(spawn([&] { return run_exec(exec_n, o.get("path", "/bin/true")); }));
  if (file_n > 0 && !dir.empty())
    children.push_back(spawn([&] { return run_file(file_n, dir, size, o.num("watched", 0) != 0); }));
  if (file_n > 0 && !dir2.empty()) children.push_back(spawn([&] { return run_file(file_n, dir2, size, false); }));
  const int clients = static_cast<int>(o.num("clients", 4)), servers = static_cast<int>(o.num("servers", 2));
  const int parallel = static_cast<int>(o.num("parallel", 4));
  if (net_n > 0)
    children.push_back(spawn([&] { return run_net(net_n, o.get("addr", "127.0.0.1"), clients, servers); }));
  if (dns_n > 0)
    children.push_back(spawn([&] {
      return run_dns(dns_n, o.get("server", "127.0.0.77"), static_cast<int>(o.num("port", 53)),
                     o.get("domain", "vbench.test"), parallel);
    }));
  Result total;
  for (const Child& child : children) {
    Result r = collect(child);
    total.ops += r.ops;
    total.failures += r.failures;
    for (const auto& [kind, count] : r.expected) total.expected[kind] += count;
  }
  // Each child is a fork of this process and exits once.
  total.expected["FORK"] += children.size();
  total.expected["EXIT"] += children.size();
  return total;
}

// ---- rate: a paced generator for the sustained-throughput ramp ----------------------------------

void* thread_body(void*) { return nullptr; }

struct RateWorker {
  std::string op;
  double rate = 0;  // ops per second for this worker
  uint64_t deadline_ns = 0;
  std::string dir;
  sockaddr_in server{};
  uint64_t ops = 0, failures = 0, max_lag_ns = 0;
  int index = 0;

  bool once(uint64_t i) {
    if (op == "exec") return exec_once("/bin/true");
    if (op == "fork") {
      const pid_t pid = fork();
      if (pid < 0) return false;
      if (pid == 0) _exit(0);
      int status;
      return waitpid(pid, &status, 0) == pid;
    }
    if (op == "thread") {
      pthread_t t;
      if (pthread_create(&t, nullptr, thread_body, nullptr) != 0) return false;
      return pthread_join(t, nullptr) == 0;
    }
    if (op == "file") {
      static const char data[64] = {};
      return file_once(dir, static_cast<long>(i * 64 + index), data, sizeof data);
    }
    if (op == "net") return connect_once(server);
    return false;
  }

  void run(uint64_t start_ns) {
    const double period_ns = 1e9 / rate;
    // Operations due so far are done in a burst, then the worker sleeps to the next one due; at high
    // rates a sleep per operation would cost more than the operation.
    for (uint64_t i = 0;; ++i) {
      const uint64_t due = start_ns + static_cast<uint64_t>(static_cast<double>(i) * period_ns);
      if (due >= deadline_ns) break;
      uint64_t now = now_ns();
      if (due > now + 50000) {
        timespec ts{static_cast<time_t>(due / 1000000000ull), static_cast<long>(due % 1000000000ull)};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
      } else if (now > due && now - due > max_lag_ns) {
        max_lag_ns = now - due;
      }
      if (!once(i)) ++failures;
      ++ops;
    }
  }
};

Result run_rate(const Options& o, uint64_t* max_lag_ns) {
  const std::string op = o.get("op", "exec");
  const double rate = o.real("rate", 1000);
  const double seconds = o.real("seconds", 5);
  const int workers = static_cast<int>(o.num("workers", 2));
  Listener l;
  std::thread server;
  if (op == "net") {
    l = listen_on(o.get("addr", "127.0.0.1"));
    server = std::thread([&] { serve(l.fd, -1); });
  }
  const uint64_t start = now_ns() + 20000000ull;  // 20 ms for the workers to start
  const uint64_t deadline = start + static_cast<uint64_t>(seconds * 1e9);
  std::vector<RateWorker> w(static_cast<size_t>(workers));
  std::vector<std::thread> threads;
  for (int i = 0; i < workers; ++i) {
    w[i].op = op;
    w[i].rate = rate / workers;
    w[i].deadline_ns = deadline;
    w[i].dir = o.get("dir", "/tmp");
    w[i].server = l.address;
    w[i].index = i;
    threads.emplace_back([&w, i, start] { w[i].run(start + static_cast<uint64_t>(i) * 1000); });
  }
  for (auto& t : threads) t.join();
  if (op == "net") {
    shutdown(l.fd, SHUT_RDWR);
    server.join();
    close(l.fd);
  }
  Result r;
  *max_lag_ns = 0;
  for (const auto& x : w) {
    r.ops += x.ops;
    r.failures += x.failures;
    if (x.max_lag_ns > *max_lag_ns) *max_lag_ns = x.max_lag_ns;
  }
  if (op == "exec") r.expected = {{"EXEC", r.ops}, {"FORK", r.ops}, {"EXIT", r.ops}};
  if (op == "fork") r.expected = {{"FORK", r.ops}, {"EXIT", r.ops}};
  return r;
}

void usage() {
  std::fputs(
      "usage: vbench-load exec|file|net|dns|mixed|rate [--key value ...]\n"
      "  exec  --n N [--path /bin/true]\n"
      "  file  --n N --dir DIR [--size BYTES]\n"
      "  net   --n N [--addr 127.0.0.1] [--clients 4] [--servers 2]\n"
      "  dns   --n N [--server 127.0.0.77] [--port 53] [--domain vbench.test] [--parallel 4]\n"
      "  mixed --exec-n N --file-n N --net-n N --dns-n N --dir DIR [--dir2 DIR] [--server IP]\n"
      "  rate  --op exec|fork|thread|file|net --rate OPS_PER_S --seconds S [--workers W] [--dir DIR]\n",
      stderr);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0) {
    usage();
    return argc < 2 ? 2 : 0;
  }
  const std::string workload = argv[1];
  Options o;
  for (int i = 2; i < argc; ++i) {
    if (std::strncmp(argv[i], "--", 2) != 0 || i + 1 >= argc) {
      usage();
      return 2;
    }
    o.values[argv[i] + 2] = argv[i + 1];
    ++i;
  }

  Result r;
  uint64_t max_lag_ns = 0;
  const uint64_t start = now_ns();
  if (workload == "exec") {
    r = run_exec(o.num("n", 1000), o.get("path", "/bin/true"));
  } else if (workload == "file") {
    r = run_file(o.num("n", 10000), o.get("dir"), static_cast<size_t>(o.num("size", 512)), o.num("watched", 0) != 0);
  } else if (workload == "net") {
    r = run_net(o.num("n", 5000), o.get("addr", "127.0.0.1"), static_cast<int>(o.num("clients", 4)),
                static_cast<int>(o.num("servers", 2)));
  } else if (workload == "dns") {
    r = run_dns(o.num("n", 2000), o.get("server", "127.0.0.77"), static_cast<int>(o.num("port", 53)),
                o.get("domain", "vbench.test"), static_cast<int>(o.num("parallel", 4)));
  } else if (workload == "mixed") {
    r = run_mixed(o);
  } else if (workload == "rate") {
    r = run_rate(o, &max_lag_ns);
  } else {
    usage();
    return 2;
  }
  const uint64_t elapsed = now_ns() - start;
  // This process was exec'd once and will exit once.
  r.expected["EXEC"] += 1;
  r.expected["EXIT"] += 1;

  std::printf("{\"workload\":\"%s\",\"ops\":%llu,\"failures\":%llu,\"elapsed_ns\":%llu,\"max_lag_ns\":%llu,\"expected\":{",
              workload.c_str(), static_cast<unsigned long long>(r.ops), static_cast<unsigned long long>(r.failures),
              static_cast<unsigned long long>(elapsed), static_cast<unsigned long long>(max_lag_ns));
  bool first = true;
  for (const auto& [kind, count] : r.expected) {
    std::printf("%s\"%s\":%llu", first ? "" : ",", kind.c_str(), static_cast<unsigned long long>(count));
    first = false;
  }
  std::printf("}}\n");
  return 0;
}
