"""hello-world-client HOST PORT: sends each line of stdin to the server, prints the answers."""
import socket
import sys


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    with socket.create_connection((host, port), timeout=10) as conn:
        stream = conn.makefile("rw", encoding="utf-8", newline="\n")
        for line in sys.stdin:
            stream.write(line if line.endswith("\n") else line + "\n")
            stream.flush()
            if line.strip() == "quit":
                break
            answer = stream.readline()
            if not answer:
                break
            sys.stdout.write(answer)
            sys.stdout.flush()


if __name__ == "__main__":
    main()
