/* Socket modes of vajra_test_helper: each makes an exact sequence of socket syscalls and prints, on one
 * line of key=value pairs, what the test needs to check the events against (ports the kernel chose,
 * fds, socket inodes, errno values).
 *
 *   tcp-session ADDR OUT BACK     listener on ADDR (backlog 7), a client connects, sends OUT bytes, the
 *                                 server answers BACK bytes; client closes, then server, then listener
 *   connect-nonblock ADDR TARGET  non-blocking connect to a port on ADDR that is: listening (a listener
 *                                 of its own), closed (bound, not listening: refused), or backlogged
 *                                 (a full accept queue: the handshake finishes after connect returned)
 *   accept-nonblock ADDR          accept4 on a non-blocking listener with no connection waiting
 *   udp-flows ADDR COUNT          COUNT datagrams with sendto and COUNT with sendmsg to one receiver,
 *                                 then a sendmmsg of two to a second receiver
 *   unix-session NAME             unix stream server and client on path NAME, or abstract @NAME
 *   dns-query SERVER NAME TYPE    res_nquery for NAME (type A or AAAA) at SERVER:53 only
 *   dns-query-tcp SERVER NAME     an A query over TCP to SERVER:53: one send of length prefix and
 *                                 query; the answer read as its 2-byte length, then its body
 *   dns-garbage SERVER            a datagram that is not DNS, to SERVER:53
 *   udp-write ADDR COUNT          a UDP socket connected to a receiver on ADDR: COUNT datagrams with write,
 *                                 then COUNT with writev
 *   dns-rw-udp SERVER NAME        as busybox nslookup: an A query written to a UDP socket connected to
 *                                 SERVER:53, the answer read with read
 *   dns-query-vc SERVER NAME TYPE as dns-query, over TCP (RES_USEVC): glibc writes length and query with
 *                                 writev and reads the answer's length, then its body, with read
 *   dns-rw-tcp SERVER NAME        A and AAAA queries over TCP in one writev of four iovecs (length, query,
 *                                 length, query), as glibc's getaddrinfo does; each answer's length
 *                                 peeked at, then length and answer read with one readv of two iovecs
 *   dns-recvmmsg SERVER NAME      A and AAAA queries with one sendmmsg on a UDP socket connected to
 *                                 SERVER:53, both answers taken with recvmmsg
 *   tcp-exit ADDR OUT BACK        as tcp-session, but the process exits with all three sockets open
 *   tcp-exit-forked ADDR          a connected client and server and their listener, inherited by a child
 *                                 that exits after this process
 *   tcp-dup ADDR                  as tcp-exit with 100 and 50 bytes, then /dev/null dup2'd onto the client
 *                                 and dup3'd onto the server side; the listener is dup'd before /dev/null
 *                                 goes onto it, so that the copy keeps it open until it is closed
 *   tcp-exec ADDR                 as tcp-exit with 100 and 50 bytes, client and server side close-on-exec,
 *                                 then exec of this helper's "exit 0", which exits holding the listener
 */
#define _GNU_SOURCE
#include "net_modes.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <resolv.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

/* Waiting is bounded only by what the test allows; this is a backstop for a hung kernel path. */
#define POLL_BACKSTOP_MS 60000

static void die(const char *what)
{
	fprintf(stderr, "vajra_test_helper: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* An inet address of either family, with a port. */
struct inet_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	int family;
};

static void parse_inet(const char *text, struct inet_addr *out)
{
	struct sockaddr_in *in = (struct sockaddr_in *)&out->ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->ss;

	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		out->len = sizeof(*in);
	} else if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		out->len = sizeof(*in6);
	} else {
		fprintf(stderr, "vajra_test_helper: not an address: %s\n", text);
		exit(64);
	}
	out->family = out->ss.ss_family;
}

static void set_port(struct inet_addr *addr, int port)
{
	if (addr->family == AF_INET)
		((struct sockaddr_in *)&addr->ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&addr->ss)->sin6_port = htons(port);
}

static int local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		die("getsockname");
	return ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
				       : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static unsigned long long inode_of(int fd)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		die("fstat");
	return (unsigned long long)st.st_ino;
}

/* A socket bound to ADDR with a port the kernel picks; listening with `backlog` unless it is negative. */
static int bound_socket(const struct inet_addr *addr, int type, int backlog, int *port)
{
	int fd = socket(addr->family, type, 0);

	if (fd < 0)
		die("socket");
	if (bind(fd, (const struct sockaddr *)&addr->ss, addr->len) != 0)
		die("bind");
	if (backlog >= 0 && listen(fd, backlog) != 0)
		die("listen");
	*port = local_port(fd);
	return fd;
}

static void write_all(int fd, size_t n)
{
	char buffer[4096];

	memset(buffer, 'v', sizeof(buffer));
	while (n > 0) {
		ssize_t done = write(fd, buffer, n < sizeof(buffer) ? n : sizeof(buffer));

		if (done < 0 && errno == EINTR)
			continue;
		if (done <= 0)
			die("write");
		n -= (size_t)done;
	}
}

static void read_exactly(int fd, size_t n)
{
	char buffer[4096];

	while (n > 0) {
		ssize_t done = read(fd, buffer, n < sizeof(buffer) ? n : sizeof(buffer));

		if (done < 0 && errno == EINTR)
			continue;
		if (done <= 0)
			die("read");
		n -= (size_t)done;
	}
}

static void read_eof(int fd)
{
	char byte;
	ssize_t done;

	while ((done = read(fd, &byte, 1)) < 0 && errno == EINTR)
		;
	if (done != 0)
		die("expected end of stream");
}

static int tcp_session(const char *address, long out, long back)
{
	struct inet_addr addr;
	int port, client_port, listener, client, conn;
	unsigned long long listener_ino, client_ino, conn_ino;

	parse_inet(address, &addr);
	listener = bound_socket(&addr, SOCK_STREAM, 7, &port);
	listener_ino = inode_of(listener);
	client = socket(addr.family, SOCK_STREAM, 0);
	if (client < 0)
		die("socket");
	set_port(&addr, port);
	if (connect(client, (const struct sockaddr *)&addr.ss, addr.len) != 0)
		die("connect");
	client_port = local_port(client);
	client_ino = inode_of(client);
	conn = accept(listener, NULL, NULL);
	if (conn < 0)
		die("accept");
	conn_ino = inode_of(conn);
	write_all(client, (size_t)out);
	read_exactly(conn, (size_t)out);
	write_all(conn, (size_t)back);
	read_exactly(client, (size_t)back);
	close(client);
	read_eof(conn);
	close(conn);
	close(listener);
	printf("listener_fd=%d listener_ino=%llu port=%d client_fd=%d client_ino=%llu client_port=%d conn_fd=%d "
	       "conn_ino=%llu\n",
	       listener, listener_ino, port, client, client_ino, client_port, conn, conn_ino);
	return 0;
}

/* Waits for a non-blocking connect to finish; returns its SO_ERROR. */
static int connect_outcome(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLOUT};
	int error = 0;
	socklen_t len = sizeof(error);
	int ready;

	while ((ready = poll(&pfd, 1, POLL_BACKSTOP_MS)) < 0 && errno == EINTR)
		;
	if (ready != 1)
		die("poll for the connect outcome");
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0)
		die("getsockopt");
	return error;
}

/* The TCP state of a socket, as TCP_INFO reports it (2 is SYN_SENT). */
static int tcp_state(int fd)
{
	struct tcp_info info;
	socklen_t len = sizeof(info);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0)
		die("getsockopt TCP_INFO");
	return info.tcpi_state;
}

static int connect_nonblock(const char *address, const char *target)
{
	struct inet_addr addr;
	int port, holder, queued = -1, fd, connect_errno, state_after_connect, outcome;
	unsigned long long ino;

	parse_inet(address, &addr);
	if (strcmp(target, "listening") == 0) {
		holder = bound_socket(&addr, SOCK_STREAM, 7, &port);
	} else if (strcmp(target, "closed") == 0) {
		holder = bound_socket(&addr, SOCK_STREAM, -1, &port); /* holds the port; nothing listens */
	} else if (strcmp(target, "backlogged") == 0) {
		/* With a backlog of 0 the accept queue holds one connection, and the SYN of the next is
		 * dropped until it is accepted: the retransmitted SYN completes the handshake later. */
		holder = bound_socket(&addr, SOCK_STREAM, 0, &port);
		set_port(&addr, port);
		queued = socket(addr.family, SOCK_STREAM, 0);
		if (queued < 0 || connect(queued, (const struct sockaddr *)&addr.ss, addr.len) != 0)
			die("connect to fill the accept queue");
	} else {
		fprintf(stderr, "vajra_test_helper: target must be listening, closed or backlogged\n");
		return 64;
	}
	set_port(&addr, port);
	fd = socket(addr.family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0)
		die("socket");
	ino = inode_of(fd);
	connect_errno = connect(fd, (const struct sockaddr *)&addr.ss, addr.len) == 0 ? 0 : errno;
	state_after_connect = tcp_state(fd);
	if (queued >= 0) {
		int first = accept(holder, NULL, NULL);

		if (first < 0)
			die("accept");
		close(first);
	}
	outcome = connect_errno == EINPROGRESS ? connect_outcome(fd) : connect_errno;
	printf("port=%d fd=%d ino=%llu connect_errno=%d state_after_connect=%d outcome=%d\n", port, fd, ino,
	       connect_errno, state_after_connect, outcome);
	close(fd);
	if (queued >= 0)
		close(queued);
	close(holder);
	return 0;
}

static int accept_nonblock(const char *address)
{
	struct inet_addr addr;
	int port, listener, accepted, accept_errno;

	parse_inet(address, &addr);
	listener = bound_socket(&addr, SOCK_STREAM | SOCK_NONBLOCK, 3, &port);
	accepted = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
	accept_errno = accepted < 0 ? errno : 0;
	printf("listener_fd=%d listener_ino=%llu port=%d accept_errno=%d\n", listener, inode_of(listener), port,
	       accept_errno);
	close(listener);
	return 0;
}

static int udp_flows(const char *address, long count)
{
	struct inet_addr addr, second;
	int port, second_port, receiver, other, sender;
	struct iovec iov = {.iov_base = "flow", .iov_len = 4};
	struct mmsghdr batch[2];

	parse_inet(address, &addr);
	receiver = bound_socket(&addr, SOCK_DGRAM, -1, &port);
	second = addr;
	other = bound_socket(&second, SOCK_DGRAM, -1, &second_port);
	set_port(&addr, port);
	set_port(&second, second_port);
	sender = socket(addr.family, SOCK_DGRAM, 0);
	if (sender < 0)
		die("socket");
	for (long i = 0; i < count; i++) {
		if (sendto(sender, "flow", 4, 0, (const struct sockaddr *)&addr.ss, addr.len) != 4)
			die("sendto");
	}
	for (long i = 0; i < count; i++) {
		struct msghdr msg = {.msg_name = &addr.ss, .msg_namelen = addr.len, .msg_iov = &iov, .msg_iovlen = 1};

		if (sendmsg(sender, &msg, 0) != 4)
			die("sendmsg");
	}
	memset(batch, 0, sizeof(batch));
	for (int i = 0; i < 2; i++) {
		batch[i].msg_hdr.msg_name = &second.ss;
		batch[i].msg_hdr.msg_namelen = second.len;
		batch[i].msg_hdr.msg_iov = &iov;
		batch[i].msg_hdr.msg_iovlen = 1;
	}
	if (sendmmsg(sender, batch, 2, 0) != 2)
		die("sendmmsg");
	printf("sender_fd=%d sender_ino=%llu sender_port=%d port=%d second_port=%d\n", sender, inode_of(sender),
	       local_port(sender), port, second_port);
	close(sender);
	close(other);
	close(receiver);
	return 0;
}

static socklen_t unix_address(const char *name, struct sockaddr_un *addr)
{
	size_t len = strlen(name);

	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	if (len >= sizeof(addr->sun_path)) {
		fprintf(stderr, "vajra_test_helper: unix name too long\n");
		exit(64);
	}
	memcpy(addr->sun_path, name, len);
	if (name[0] == '@') {
		addr->sun_path[0] = '\0'; /* abstract: the name is every byte given, no terminator */
		return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	}
	return sizeof(*addr);
}

static int unix_session(const char *name)
{
	struct sockaddr_un addr;
	socklen_t len = unix_address(name, &addr);
	int server = socket(AF_UNIX, SOCK_STREAM, 0);
	int client = socket(AF_UNIX, SOCK_STREAM, 0);
	int conn;
	unsigned long long server_ino, client_ino, conn_ino;

	if (server < 0 || client < 0)
		die("socket");
	if (bind(server, (struct sockaddr *)&addr, len) != 0 || listen(server, 5) != 0)
		die("bind/listen");
	if (connect(client, (struct sockaddr *)&addr, len) != 0)
		die("connect");
	conn = accept(server, NULL, NULL);
	if (conn < 0)
		die("accept");
	server_ino = inode_of(server);
	client_ino = inode_of(client);
	conn_ino = inode_of(conn);
	write_all(client, 10);
	read_exactly(conn, 10);
	close(client);
	close(conn);
	close(server);
	if (name[0] != '@')
		unlink(name);
	printf("server_fd=%d server_ino=%llu client_fd=%d client_ino=%llu conn_fd=%d conn_ino=%llu\n", server,
	       server_ino, client, client_ino, conn, conn_ino);
	return 0;
}

/* Through glibc's resolver, told to ask SERVER alone, so the host's resolver configuration is not
 * involved. */
static int dns_query(const char *server, const char *name, const char *type_name, int tcp)
{
	struct __res_state state;
	unsigned char answer[4096];
	int type = strcmp(type_name, "AAAA") == 0 ? ns_t_aaaa : ns_t_a;
	int length;

	memset(&state, 0, sizeof(state));
	if (res_ninit(&state) != 0)
		die("res_ninit");
	state.nscount = 1;
	if (tcp)
		state.options |= RES_USEVC;
	memset(&state.nsaddr_list[0], 0, sizeof(state.nsaddr_list[0]));
	state.nsaddr_list[0].sin_family = AF_INET;
	state.nsaddr_list[0].sin_port = htons(53);
	if (inet_pton(AF_INET, server, &state.nsaddr_list[0].sin_addr) != 1) {
		fprintf(stderr, "vajra_test_helper: not an IPv4 address: %s\n", server);
		return 64;
	}
	length = res_nquery(&state, name, ns_c_in, type, answer, sizeof(answer));
	printf("length=%d\n", length);
	res_nclose(&state);
	return length > 0 ? 0 : 1;
}

static void recv_exactly(int fd, unsigned char *buffer, size_t n)
{
	while (n > 0) {
		ssize_t done = recv(fd, buffer, n, MSG_WAITALL);

		if (done < 0 && errno == EINTR)
			continue;
		if (done <= 0)
			die("recv");
		buffer += done;
		n -= (size_t)done;
	}
}

static int dns_query_tcp(const char *server, const char *name)
{
	struct inet_addr addr;
	unsigned char message[2 + 512], length_bytes[2], answer[65535];
	int query_length, answer_length, fd;

	query_length = res_mkquery(ns_o_query, name, ns_c_in, ns_t_a, NULL, 0, NULL, message + 2, 512);
	if (query_length < 0)
		die("res_mkquery");
	message[0] = (unsigned char)(query_length >> 8);
	message[1] = (unsigned char)query_length;
	parse_inet(server, &addr);
	set_port(&addr, 53);
	fd = socket(addr.family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (const struct sockaddr *)&addr.ss, addr.len) != 0)
		die("connect");
	if (send(fd, message, (size_t)query_length + 2, 0) != query_length + 2)
		die("send");
	recv_exactly(fd, length_bytes, 2);
	answer_length = length_bytes[0] << 8 | length_bytes[1];
	recv_exactly(fd, answer, (size_t)answer_length);
	close(fd);
	printf("length=%d\n", answer_length);
	return 0;
}

static int udp_write(const char *address, long count)
{
	struct inet_addr addr;
	int port, receiver, sender;
	struct iovec iov[2] = {{.iov_base = "fl", .iov_len = 2}, {.iov_base = "ow", .iov_len = 2}};

	parse_inet(address, &addr);
	receiver = bound_socket(&addr, SOCK_DGRAM, -1, &port);
	set_port(&addr, port);
	sender = socket(addr.family, SOCK_DGRAM, 0);
	if (sender < 0 || connect(sender, (const struct sockaddr *)&addr.ss, addr.len) != 0)
		die("connect");
	for (long i = 0; i < count; i++) {
		if (write(sender, "flow", 4) != 4)
			die("write");
	}
	for (long i = 0; i < count; i++) {
		if (writev(sender, iov, 2) != 4)
			die("writev");
	}
	printf("sender_fd=%d sender_ino=%llu sender_port=%d port=%d\n", sender, inode_of(sender), local_port(sender),
	       port);
	close(sender);
	close(receiver);
	return 0;
}

/* A socket of `type` connected to SERVER:53. */
static int dns_socket(const char *server, int type)
{
	struct inet_addr addr;
	int fd;

	parse_inet(server, &addr);
	set_port(&addr, 53);
	fd = socket(addr.family, type, 0);
	if (fd < 0 || connect(fd, (const struct sockaddr *)&addr.ss, addr.len) != 0)
		die("connect to the DNS server");
	return fd;
}

static int make_query(const char *name, int type, unsigned char *out, int room)
{
	int length = res_mkquery(ns_o_query, name, ns_c_in, type, NULL, 0, NULL, out, room);

	if (length < 0)
		die("res_mkquery");
	return length;
}

static int dns_rw_udp(const char *server, const char *name)
{
	unsigned char query[512], answer[512];
	int fd = dns_socket(server, SOCK_DGRAM);
	int length = make_query(name, ns_t_a, query, sizeof(query));
	ssize_t got;

	if (write(fd, query, (size_t)length) != length)
		die("write");
	while ((got = read(fd, answer, sizeof(answer))) < 0 && errno == EINTR)
		;
	if (got <= 0)
		die("read");
	printf("fd=%d ino=%llu port=%d query=%d answer=%zd\n", fd, inode_of(fd), local_port(fd), length, got);
	close(fd);
	return 0;
}

static int dns_rw_tcp(const char *server, const char *name)
{
	unsigned char a[512], aaaa[512], lengths[4], answer[512];
	int fd = dns_socket(server, SOCK_STREAM);
	int a_length = make_query(name, ns_t_a, a, sizeof(a));
	int aaaa_length = make_query(name, ns_t_aaaa, aaaa, sizeof(aaaa));
	struct iovec iov[4] = {{lengths, 2}, {a, (size_t)a_length}, {lengths + 2, 2}, {aaaa, (size_t)aaaa_length}};
	int answer_length[2];

	lengths[0] = (unsigned char)(a_length >> 8);
	lengths[1] = (unsigned char)a_length;
	lengths[2] = (unsigned char)(aaaa_length >> 8);
	lengths[3] = (unsigned char)aaaa_length;
	if (writev(fd, iov, 4) != 4 + a_length + aaaa_length)
		die("writev");
	for (int i = 0; i < 2; i++) {
		unsigned char prefix[2];
		struct iovec in[2] = {{prefix, 2}, {answer, 0}};
		ssize_t got;

		/* dnsmasq writes length and answer at once: once the length is there, so is the answer. */
		while ((got = recv(fd, prefix, 2, MSG_PEEK | MSG_WAITALL)) < 0 && errno == EINTR)
			;
		if (got != 2)
			die("recv MSG_PEEK");
		answer_length[i] = prefix[0] << 8 | prefix[1];
		if (answer_length[i] > (int)sizeof(answer))
			die("answer too long");
		in[1].iov_len = (size_t)answer_length[i];
		while ((got = readv(fd, in, 2)) < 0 && errno == EINTR)
			;
		if (got != 2 + answer_length[i])
			die("readv");
	}
	printf("fd=%d ino=%llu port=%d a=%d aaaa=%d answers=%d,%d\n", fd, inode_of(fd), local_port(fd), a_length,
	       aaaa_length, answer_length[0], answer_length[1]);
	close(fd);
	return 0;
}

/* On a connected socket, as glibc's resolver has it; each answer's sender is still written to its
 * msg_name. */
static int dns_recvmmsg(const char *server, const char *name)
{
	unsigned char query[2][512], answer[2][512];
	struct sockaddr_storage from[2];
	struct iovec out_iov[2], in_iov[2];
	struct mmsghdr out[2], in[2];
	int fd = dns_socket(server, SOCK_DGRAM), received = 0;

	memset(out, 0, sizeof(out));
	memset(in, 0, sizeof(in));
	for (int i = 0; i < 2; i++) {
		out_iov[i].iov_base = query[i];
		out_iov[i].iov_len = (size_t)make_query(name, i == 0 ? ns_t_a : ns_t_aaaa, query[i], sizeof(query[i]));
		out[i].msg_hdr.msg_iov = &out_iov[i];
		out[i].msg_hdr.msg_iovlen = 1;
	}
	if (sendmmsg(fd, out, 2, 0) != 2)
		die("sendmmsg");
	while (received < 2) {
		int got;

		for (int i = 0; i < 2; i++) {
			in_iov[i].iov_base = answer[i];
			in_iov[i].iov_len = sizeof(answer[i]);
			in[i].msg_hdr.msg_name = &from[i];
			in[i].msg_hdr.msg_namelen = sizeof(from[i]);
			in[i].msg_hdr.msg_iov = &in_iov[i];
			in[i].msg_hdr.msg_iovlen = 1;
		}
		got = recvmmsg(fd, in, (unsigned int)(2 - received), MSG_WAITFORONE, NULL);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			die("recvmmsg");
		received += got;
	}
	printf("fd=%d ino=%llu port=%d\n", fd, inode_of(fd), local_port(fd));
	close(fd);
	return 0;
}

/* A listener, a client connected to it and the accepted end, after OUT bytes one way and BACK the other. */
struct tcp_pair {
	int listener, client, conn, port, client_port;
};

static void tcp_pair(const char *address, long out, long back, struct tcp_pair *pair)
{
	struct inet_addr addr;

	parse_inet(address, &addr);
	pair->listener = bound_socket(&addr, SOCK_STREAM, 7, &pair->port);
	pair->client = socket(addr.family, SOCK_STREAM, 0);
	if (pair->client < 0)
		die("socket");
	set_port(&addr, pair->port);
	if (connect(pair->client, (const struct sockaddr *)&addr.ss, addr.len) != 0)
		die("connect");
	pair->client_port = local_port(pair->client);
	pair->conn = accept(pair->listener, NULL, NULL);
	if (pair->conn < 0)
		die("accept");
	write_all(pair->client, (size_t)out);
	read_exactly(pair->conn, (size_t)out);
	write_all(pair->conn, (size_t)back);
	read_exactly(pair->client, (size_t)back);
}

static void print_pair(const struct tcp_pair *pair)
{
	printf("listener_fd=%d listener_ino=%llu port=%d client_fd=%d client_ino=%llu client_port=%d conn_fd=%d "
	       "conn_ino=%llu",
	       pair->listener, inode_of(pair->listener), pair->port, pair->client, inode_of(pair->client),
	       pair->client_port, pair->conn, inode_of(pair->conn));
}

static int tcp_exit(const char *address, long out, long back)
{
	struct tcp_pair pair;

	tcp_pair(address, out, back, &pair);
	print_pair(&pair);
	printf("\n");
	return 0; /* no close: exit_files() closes them */
}

static int tcp_exit_forked(const char *address)
{
	struct tcp_pair pair;
	int gone[2];
	pid_t child;
	char byte;

	tcp_pair(address, 10, 10, &pair);
	if (pipe(gone) != 0)
		die("pipe");
	fflush(stdout);
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		/* Outlives the parent: its read ends when the parent's exit closes the pipe's write end. */
		close(gone[1]);
		while (read(gone[0], &byte, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(gone[0]);
	print_pair(&pair);
	printf(" child=%d\n", (int)child);
	return 0;
}

static int tcp_dup(const char *address)
{
	struct tcp_pair pair;
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC), copy;

	if (null < 0)
		die("open /dev/null");
	tcp_pair(address, 100, 50, &pair);
	print_pair(&pair);
	copy = dup(pair.listener);
	if (copy < 0 || dup2(null, pair.client) != pair.client || dup3(null, pair.conn, O_CLOEXEC) != pair.conn ||
	    dup2(null, pair.listener) != pair.listener)
		die("dup");
	printf(" copy_fd=%d\n", copy);
	close(copy);
	return 0;
}

static int tcp_exec(const char *address)
{
	struct tcp_pair pair;
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *argv[] = {self, "exit", "0", NULL};

	if (n <= 0)
		die("readlink /proc/self/exe");
	self[n] = '\0';
	tcp_pair(address, 100, 50, &pair);
	if (fcntl(pair.client, F_SETFD, FD_CLOEXEC) != 0 || fcntl(pair.conn, F_SETFD, FD_CLOEXEC) != 0)
		die("fcntl FD_CLOEXEC");
	print_pair(&pair);
	printf("\n");
	fflush(stdout);
	execv(self, argv);
	die("execv");
	return 1;
}

static int dns_garbage(const char *server)
{
	struct inet_addr addr;
	int fd;

	parse_inet(server, &addr);
	set_port(&addr, 53);
	fd = socket(addr.family, SOCK_DGRAM, 0);
	if (fd < 0)
		die("socket");
	if (sendto(fd, "not dns", 7, 0, (const struct sockaddr *)&addr.ss, addr.len) != 7)
		die("sendto");
	close(fd);
	printf("sent=7\n");
	return 0;
}

static int number(const char *text, long *out)
{
	char *end = NULL;

	errno = 0;
	*out = strtol(text, &end, 10);
	return errno == 0 && end != text && *end == '\0';
}

int run_net_mode(int argc, char **argv)
{
	const char *mode = argv[0];
	long a = 0, b = 0;

	if (strcmp(mode, "tcp-session") == 0 && argc >= 4 && number(argv[2], &a) && number(argv[3], &b))
		return tcp_session(argv[1], a, b);
	if (strcmp(mode, "connect-nonblock") == 0 && argc >= 3)
		return connect_nonblock(argv[1], argv[2]);
	if (strcmp(mode, "accept-nonblock") == 0 && argc >= 2)
		return accept_nonblock(argv[1]);
	if (strcmp(mode, "udp-flows") == 0 && argc >= 3 && number(argv[2], &a))
		return udp_flows(argv[1], a);
	if (strcmp(mode, "unix-session") == 0 && argc >= 2)
		return unix_session(argv[1]);
	if (strcmp(mode, "dns-query") == 0 && argc >= 4)
		return dns_query(argv[1], argv[2], argv[3], 0);
	if (strcmp(mode, "dns-query-vc") == 0 && argc >= 4)
		return dns_query(argv[1], argv[2], argv[3], 1);
	if (strcmp(mode, "dns-query-tcp") == 0 && argc >= 3)
		return dns_query_tcp(argv[1], argv[2]);
	if (strcmp(mode, "dns-garbage") == 0 && argc >= 2)
		return dns_garbage(argv[1]);
	if (strcmp(mode, "udp-write") == 0 && argc >= 3 && number(argv[2], &a))
		return udp_write(argv[1], a);
	if (strcmp(mode, "dns-rw-udp") == 0 && argc >= 3)
		return dns_rw_udp(argv[1], argv[2]);
	if (strcmp(mode, "dns-rw-tcp") == 0 && argc >= 3)
		return dns_rw_tcp(argv[1], argv[2]);
	if (strcmp(mode, "dns-recvmmsg") == 0 && argc >= 3)
		return dns_recvmmsg(argv[1], argv[2]);
	if (strcmp(mode, "tcp-exit") == 0 && argc >= 4 && number(argv[2], &a) && number(argv[3], &b))
		return tcp_exit(argv[1], a, b);
	if (strcmp(mode, "tcp-exit-forked") == 0 && argc >= 2)
		return tcp_exit_forked(argv[1]);
	if (strcmp(mode, "tcp-dup") == 0 && argc >= 2)
		return tcp_dup(argv[1]);
	if (strcmp(mode, "tcp-exec") == 0 && argc >= 2)
		return tcp_exec(argv[1]);
	return -1;
}
