FROM alpine
RUN <<EOF
echo hello $NAME
EOF
RUN <<-EOT
	echo tab stripped
		twice
	EOT
RUN <<"EOF"
echo $NOT_EXPANDED
EOF
RUN <<'EOF'
echo also not expanded
EOF
RUN <<EO"F"
partly quoted disables expansion
EOF
RUN <<EOT bash
set -e
echo run by bash
EOT
RUN <<EOF
#!/usr/bin/env python3
print("shebang")
EOF
RUN <<FILE1 cat > /file1 && <<FILE2 cat > /file2
one
FILE1
two
FILE2
RUN 3<<EOF cat /dev/fd/3
fd three
EOF
RUN ["cat", "<<EOF"]
RUN cat '<<NOTHEREDOC'
RUN python3 <<EOF --flag
print(1)
EOF
COPY <<EOF /etc/motd
Welcome $USER
EOF
COPY --chmod=755 <<'SCRIPT' <<-NOTE /usr/local/bin/
#!/bin/sh
echo $1
SCRIPT
	indented note
	NOTE
COPY <<EOF src.txt /dest/
inline and a path
EOF
ADD <<EOF /added
added
EOF
ONBUILD RUN <<EOF
echo on build
EOF
