/**
 * POST /v1/graphql: the storeSensorMeasureData mutation, and nothing else.
 *
 * GraphQL answers failures with HTTP 200 and a top-level `errors` array (`data: null`):
 * FORBIDDEN for a token without Internal Hub Write or without the mapping-ID permissions when
 * addressing by mappingId; BAD_USER_INPUT for anything wrong with the document or the input,
 * one error per problem, each message naming its field (`dataPoints[3].timestamp: ...`).
 * A body that is not JSON at all is refused with HTTP 400, as GraphQL servers over HTTP do.
 * All-or-nothing: one invalid point and nothing of the mutation is stored.
 */
import { PERMISSION, hasPermission } from '../../auth/permissions.js';
import { provision, resolveSensor, type HubContext, type HubReply } from '../context.js';
import { checkStoreMutationQuery, validateMutationInput } from '../validate.js';

type Code = 'FORBIDDEN' | 'BAD_USER_INPUT' | 'BAD_REQUEST';

function errors(code: Code, messages: readonly string[], status = 200): HubReply {
  return {
    status,
    body: { errors: messages.map((message) => ({ message, extensions: { code } })), data: null },
    errorCode: code,
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function handleGraphql(ctx: HubContext): HubReply {
  if (!ctx.json.ok) return errors('BAD_REQUEST', [ctx.json.message], 400);
  if (!hasPermission(ctx.permissions, PERMISSION.hubWrite)) {
    return errors('FORBIDDEN', ['storing data needs the Internal Hub Write permission']);
  }
  const body = ctx.json.value;
  if (!isObject(body)) return errors('BAD_USER_INPUT', ['the request must be a JSON object with query and variables']);
  const doc = checkStoreMutationQuery(body.query);
  if (!doc.ok) return errors('BAD_USER_INPUT', doc.errors);
  if (body.variables !== undefined && body.variables !== null && !isObject(body.variables)) {
    return errors('BAD_USER_INPUT', ['variables: must be an object']);
  }
  const variables = isObject(body.variables) ? body.variables : {};
  const name = doc.value.inputVariable;
  if (variables[name] === undefined || variables[name] === null) {
    return errors('BAD_USER_INPUT', [`Variable "$${name}" of required type "StoreSensorMeasureDataInput!" was not provided.`]);
  }
  const v = validateMutationInput(variables[name]);
  if (!v.ok) return errors('BAD_USER_INPUT', v.errors);
  const input = v.value;
  const refused = ctx.config.rejectPoint
    ? input.dataPoints.flatMap((p, i) => {
        const why = ctx.config.rejectPoint!({ measureName: p.measureName, timestamp: p.timestamp, value: p.value });
        return why === null ? [] : [`input.dataPoints[${i}]: ${why}`];
      })
    : [];
  if (refused.length > 0) return errors('BAD_USER_INPUT', refused);

  const found = resolveSensor(ctx, input.target, 'timeseries', 'input');
  if (found.kind === 'forbidden') return errors('FORBIDDEN', [found.message]);
  if (found.kind === 'invalid') return errors('BAD_USER_INPUT', [found.message]);
  const sensor = found.kind === 'existing' ? found.sensor : provision(ctx, found.mappingId, 'timeseries');

  ctx.store.acceptDataPoints(sensor, input.dataPoints, {
    clientMutationId: input.clientMutationId,
    idempotencyKey: ctx.idempotencyKey,
    requestSeq: ctx.seq,
  });
  const payload = { clientMutationId: input.clientMutationId };
  return {
    status: 200,
    body: ctx.config.responseShape === 'documented' ? { data: payload } : { data: { storeSensorMeasureData: payload } },
  };
}
