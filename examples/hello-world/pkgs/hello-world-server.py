"""hello-world-server PORT: answers `hello` with `Hello world!` over TCP.

It daemonizes itself and writes its pid to $runtimeDir/hello-world-server.pid, which is
what Dysnomia's `process` type expects of a process. On SIGTERM it removes the pid file
and exits: Dysnomia's process module only kills the pid, and trusts a pid file it finds on
the next activation.
"""
import os
import signal
import socket
import sys
import threading


def serve(conn):
    with conn, conn.makefile("rw", encoding="utf-8", newline="\n") as stream:
        for line in stream:
            word = line.strip()
            if word == "quit":
                return
            stream.write("Hello world!\n" if word == "hello" else "I don't understand: %s\n" % word)
            stream.flush()


def stop(pid_file):
    try:
        with open(pid_file, encoding="ascii") as f:
            mine = f.read().strip() == str(os.getpid())
        if mine:
            os.unlink(pid_file)
    except OSError:
        pass
    os._exit(0)


def main():
    port = int(sys.argv[1])
    pid_file = os.path.join(os.environ.get("runtimeDir", "/var/run"), "hello-world-server.pid")
    listener = socket.create_server(("0.0.0.0", port), reuse_port=False)
    # double fork: the activation returns once the pid file exists
    if os.fork():
        os._exit(0)
    os.setsid()
    if os.fork():
        os._exit(0)
    signal.signal(signal.SIGTERM, lambda _sig, _frame: stop(pid_file))
    with open(pid_file, "w", encoding="ascii") as f:
        f.write("%d\n" % os.getpid())
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    while True:
        conn, _peer = listener.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
