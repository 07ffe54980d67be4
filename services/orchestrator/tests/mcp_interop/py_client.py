"""Drives Runbooks' MCP server with the official Python SDK, over stdio (`orchestrator mcp`)
or streamable HTTP (`/mcp`), as a viewer: tools/list, a call of each read tool (the SDK
validates structured results against the tools' output schemas), a bad argument (a tool
error) and a write tool (refused). Run by services/orchestrator/tests/it/mcp_interop.rs;
inputs come from the environment. Prints one JSON line of findings; a failure exits 1."""

import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamablehttp_client


def text(result):
    return "\n".join(c.text for c in result.content if getattr(c, "text", None))


async def drive(session):
    init = await session.initialize()
    out = {"protocol": init.protocolVersion, "results": {}}
    tools = (await session.list_tools()).tools
    out["tools"] = sorted(t.name for t in tools)
    for t in tools:
        if t.annotations is None or t.annotations.readOnlyHint is None:
            raise SystemExit(f"{t.name} has no annotations")
    calls = json.loads(os.environ["MCP_READ_CALLS"])
    for name, args in calls.items():
        r = await session.call_tool(name, args)
        if r.isError:
            out["results"][name] = {"error": text(r)}
        else:
            if r.structuredContent is None:
                raise SystemExit(f"{name}: no structured content")
            out["results"][name] = {"ok": True}
    bad = await session.call_tool("get_incident", {"incident_id": "not-a-number"})
    if not bad.isError:
        raise SystemExit("a bad argument was not a tool error")
    out["bad_argument"] = text(bad)
    incident = calls["get_incident"]["incident_id"]
    write = await session.call_tool("acknowledge_incident", {"incident_id": incident})
    if not write.isError:
        raise SystemExit("a viewer's write call was not refused")
    out["write_refused"] = text(write)
    return out


async def main(mode):
    if mode == "stdio":
        params = StdioServerParameters(
            command=os.environ["MCP_COMMAND"], args=["mcp"], env=dict(os.environ)
        )
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                out = await drive(session)
    else:
        headers = {"Authorization": f"Bearer {os.environ['MCP_TOKEN']}"}
        async with streamablehttp_client(os.environ["MCP_URL"], headers=headers) as (
            read,
            write,
            _,
        ):
            async with ClientSession(read, write) as session:
                out = await drive(session)
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
