#!/bin/sh
set -eu
: "${RABBITMQ_DEFAULT_USER:=guest}" "${RABBITMQ_DEFAULT_PASS:=guest}"
mkdir -p /etc/rabbitmq
# Written at every start, readable by the broker only; as the official image, the default
# user is created when the node's database is new (the volume keeps it afterwards).
umask 077
cat > /etc/rabbitmq/rabbitmq.conf <<CONF
loopback_users = none
listeners.tcp.default = 5672
management.tcp.port = 15672
default_user = $RABBITMQ_DEFAULT_USER
default_pass = $RABBITMQ_DEFAULT_PASS
CONF
chown -R rabbitmq:rabbitmq /etc/rabbitmq /var/lib/rabbitmq
exec runuser -u rabbitmq -- /usr/lib/rabbitmq/bin/rabbitmq-server
