#!/bin/sh
# Installs the Gridpresence meter agent from this unpacked tarball (README.md beside it says
# what comes next). POSIX sh, for Debian, Yocto and OpenWrt (busybox). Run as root; run again
# to upgrade: the program is replaced, the config and password are never overwritten.
set -eu

NAME=gridpresence-meter-agent
USER_NAME=gridpresence
APP_DIR=/opt/gridpresence/meter-agent
CONFIG_DIR=/etc/gridpresence
CONFIG=$CONFIG_DIR/meter-agent.json
PASSWORD_FILE=$CONFIG_DIR/meter-agent.password
DATA_DIR=/var/lib/$NAME
UNIT_DIR=/etc/systemd/system
INIT_SCRIPT=/etc/init.d/$NAME
NODE_MAJOR_MIN=20

usage() {
	cat <<EOF
Usage: install.sh [--prefix DIR]

Installs the Gridpresence meter agent:
  $APP_DIR/meter-agent.mjs   the agent, one file (needs Node.js $NODE_MAJOR_MIN or later)
  $CONFIG          its config, from config.example.json (an existing one is kept)
  $PASSWORD_FILE      empty, for the XMPP password (an existing one is kept)
  with systemd: $UNIT_DIR/$NAME.service, enabled, not started
  on OpenWrt:   $INIT_SCRIPT, enabled, not started
and creates the system user '$USER_NAME' if it is missing. Run as root.

Options:
  --prefix DIR  install below DIR instead of / (an image's root file system, a test):
                creates no user, changes no owner, runs no systemctl
  -h, --help    this help
EOF
}

say() { printf '%s\n' "$*"; }
warn() { printf 'install.sh: warning: %s\n' "$*" >&2; }
die() {
	printf 'install.sh: %s\n' "$*" >&2
	exit 1
}

PREFIX=
while [ $# -gt 0 ]; do
	case $1 in
	--prefix)
		[ $# -ge 2 ] || die "--prefix needs a directory"
		PREFIX=$2
		shift 2
		;;
	--prefix=*)
		PREFIX=${1#--prefix=}
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		printf "install.sh: unknown option '%s'\n" "$1" >&2
		usage >&2
		exit 2
		;;
	esac
done

HERE=$(cd "$(dirname "$0")" && pwd)
for file in meter-agent.mjs config.example.json $NAME.service openwrt-init README.md; do
	[ -f "$HERE/$file" ] || die "$file is missing beside install.sh: unpack the whole tarball"
done

if [ -n "$PREFIX" ]; then
	mkdir -p "$PREFIX"
	ROOT=$(cd "$PREFIX" && pwd)
	[ "$ROOT" != / ] || ROOT=
else
	ROOT=
	[ "$(id -u)" = 0 ] || die "run as root (e.g. sudo ./install.sh), or give --prefix DIR"
fi

# The agent is one file, but it needs Node.js on the PATH as `node`. Into a --prefix the host's
# Node may not be the target's, so there a problem is only a warning.
check_node() {
	problem=
	if ! command -v node >/dev/null 2>&1; then
		problem="Node.js was not found"
	else
		version=$(node -p 'process.versions.node' 2>/dev/null || echo unknown)
		major=${version%%.*}
		case $major in '' | *[!0-9]*) major=0 ;; esac
		if [ "$major" -lt $NODE_MAJOR_MIN ]; then
			problem="Node.js $version ($(command -v node)) is too old"
		else
			say "Node.js $version: $(command -v node)"
			return 0
		fi
	fi
	message="$problem: the agent needs Node.js $NODE_MAJOR_MIN or later as 'node' on the PATH.
  Debian 13 / Ubuntu 24.04: apt-get install nodejs (Debian 12 has 18: use NodeSource's packages)
  Yocto: add nodejs (meta-oe) to IMAGE_INSTALL
  OpenWrt: opkg install node (check 'node --version')
  otherwise: the Linux build for this CPU (arm64, armv7l, x64) from https://nodejs.org/"
	if [ -n "$PREFIX" ]; then warn "$message"; else die "$message"; fi
}

# A system user with its own group, no home, no login.
ensure_user() {
	if id "$USER_NAME" >/dev/null 2>&1; then
		return 0
	fi
	nologin=/bin/false
	for shell in /usr/sbin/nologin /sbin/nologin; do
		if [ -x "$shell" ]; then
			nologin=$shell
			break
		fi
	done
	if command -v useradd >/dev/null 2>&1; then
		useradd --system --user-group --no-create-home --home-dir "$DATA_DIR" \
			--shell "$nologin" "$USER_NAME"
	elif command -v adduser >/dev/null 2>&1; then
		# busybox: -S system user, -D no password, -H no home; a group of the same name.
		adduser -S -D -H -h "$DATA_DIR" -s "$nologin" "$USER_NAME"
	else
		die "no useradd or adduser here to create the user '$USER_NAME' (OpenWrt: opkg install
  shadow-useradd shadow-groupadd); create it and its group, then run install.sh again"
	fi
	id "$USER_NAME" >/dev/null 2>&1 || die "could not create the user '$USER_NAME'"
	say "created the system user $USER_NAME"
}

own() { [ -n "$PREFIX" ] || chown "$1" "$2"; }

# Copies SOURCE to TARGET with MODE, replacing it in one step (a running agent keeps its file).
put() {
	mkdir -p "$(dirname "$2")"
	cp "$1" "$2.new.$$"
	chmod "$3" "$2.new.$$"
	mv -f "$2.new.$$" "$2"
}

check_node
[ -n "$PREFIX" ] || ensure_user

put "$HERE/meter-agent.mjs" "$ROOT$APP_DIR/meter-agent.mjs" 0755
for file in README.md config.example.json $NAME.service openwrt-init; do
	put "$HERE/$file" "$ROOT$APP_DIR/$file" 0644
done
say "installed the agent in $ROOT$APP_DIR"

if [ ! -d "$ROOT$CONFIG_DIR" ]; then
	mkdir -p "$ROOT$CONFIG_DIR"
	chmod 0750 "$ROOT$CONFIG_DIR"
	own "root:$USER_NAME" "$ROOT$CONFIG_DIR"
fi
if [ -e "$ROOT$CONFIG" ]; then
	say "kept the existing $ROOT$CONFIG (compare with $APP_DIR/config.example.json)"
else
	put "$HERE/config.example.json" "$ROOT$CONFIG" 0640
	own "root:$USER_NAME" "$ROOT$CONFIG"
	say "installed $ROOT$CONFIG from the example: edit it"
fi
if [ -e "$ROOT$PASSWORD_FILE" ]; then
	say "kept the existing $ROOT$PASSWORD_FILE"
else
	(
		umask 027
		: >"$ROOT$PASSWORD_FILE"
	)
	chmod 0640 "$ROOT$PASSWORD_FILE"
	own "root:$USER_NAME" "$ROOT$PASSWORD_FILE"
	say "created $ROOT$PASSWORD_FILE, empty: put the meter's XMPP password in it"
fi

if [ -n "$PREFIX" ]; then
	put "$HERE/$NAME.service" "$ROOT$UNIT_DIR/$NAME.service" 0644
	say "installed $ROOT$UNIT_DIR/$NAME.service (not enabled: --prefix runs no systemctl)"
	say "--prefix created no user and set no owners: the target needs the user $USER_NAME"
	say "and its group, and $CONFIG_DIR and the files in it owned root:$USER_NAME."
	say "OpenWrt (procd, no systemd): use $APP_DIR/openwrt-init as $INIT_SCRIPT."
	start_hint="systemctl enable --now $NAME"
elif [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	put "$HERE/$NAME.service" "$UNIT_DIR/$NAME.service" 0644
	systemctl daemon-reload
	systemctl enable "$NAME.service"
	say "installed and enabled $UNIT_DIR/$NAME.service (not started yet)"
	start_hint="systemctl start $NAME; journalctl -u $NAME -f"
elif [ -f /etc/rc.common ]; then
	put "$HERE/openwrt-init" "$INIT_SCRIPT" 0755
	"$INIT_SCRIPT" enable
	say "installed and enabled $INIT_SCRIPT (procd; not started yet)"
	start_hint="$INIT_SCRIPT start; logread -f -e meter-agent"
else
	mkdir -p "$DATA_DIR"
	chmod 0750 "$DATA_DIR"
	own "$USER_NAME:$USER_NAME" "$DATA_DIR"
	say "no systemd and no procd found: start the agent as $USER_NAME with your init system:"
	start_hint="su -s /bin/sh $USER_NAME -c 'node $APP_DIR/meter-agent.mjs run --config $CONFIG'"
fi

cat <<EOF

Next ($APP_DIR/README.md has the details):
  1. edit $CONFIG: meterId, domain, xmpp.host, acl
  2. put the meter's XMPP password in $PASSWORD_FILE
  3. put the server's CA certificate in $CONFIG_DIR/ca.pem (or drop xmpp.caFile)
  4. $start_hint
EOF
