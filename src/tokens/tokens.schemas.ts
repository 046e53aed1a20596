import { Type, type Static } from "@sinclair/typebox";
import { nameSchemas, Nullable, StringEnum, Timestamp } from "../core/envelope.js";
import { RefSchema } from "../core/ids.js";
import { TOKEN_ROLES } from "./tokens.state.js";

export const TokenCreate = Type.Object(
  {
    role: StringEnum(TOKEN_ROLES),
    agent_id: Type.Optional(RefSchema),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
);
export type TokenCreate = Static<typeof TokenCreate>;

export const Token = Type.Object({
  id: Type.Integer(),
  role: StringEnum(TOKEN_ROLES),
  agent_id: Nullable(Type.String()),
  name: Nullable(Type.String()),
  expires_at: Nullable(Timestamp),
  last_used_at: Nullable(Timestamp),
  inserted_at: Timestamp,
});

export const TokenWithSecret = Type.Object({
  id: Type.Integer(),
  role: StringEnum(TOKEN_ROLES),
  agent_id: Nullable(Type.String()),
  name: Nullable(Type.String()),
  token: Type.String({ description: "the secret; shown only in this response" }),
});

// Names in the OpenAPI document's components.schemas (src/http/openapi.ts).
nameSchemas({ Token, TokenCreate, TokenWithSecret });
