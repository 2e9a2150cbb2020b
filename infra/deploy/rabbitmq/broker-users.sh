#!/bin/sh
# The broker's vhost and users for the compose deployment, run once the nodes are up (compose's
# broker-users step). Passwords come from the environment, never from this file. Each process
# has its own user in vhost tongban; partners get users of their own, made by the operations
# team, that may only read their queue partner.<code> (docs/deployment.md).
set -eu
ctl() { rabbitmqctl -n "$RABBITMQ_NODE" "$@"; }
ctl await_startup
ctl add_vhost tongban 2>/dev/null || true
user() {  # name password tags
    ctl add_user "$1" "$2" 2>/dev/null || ctl change_password "$1" "$2"
    ctl set_user_tags "$1" $3
}
user topology "$TOPOLOGY_BROKER_PASSWORD" ""
ctl set_permissions -p tongban topology '.*' '.*' '.*'
user monitoring "$MONITORING_BROKER_PASSWORD" monitoring
ctl set_permissions -p tongban monitoring '' '' ''
for name in marriage assistance care charity funeral gateway progress partner_feed; do
    var=$(echo "$name" | tr '[:lower:]' '[:upper:]')_BROKER_PASSWORD
    eval "password=\${$var}"
    user "$name" "$password" ""
    ctl set_permissions -p tongban "$name" '.*' '.*' '.*'
done
ctl delete_user guest 2>/dev/null || true
