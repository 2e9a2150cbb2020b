// Validates custom resources against the schemas @kubernetes-models publishes for CloudNativePG
// and KEDA: reads a JSON array of resources on stdin, prints one JSON answer per resource:
// {"kind", "name", "errors": [...]} (empty when valid, null when no schema is known here).
import { Cluster } from "@kubernetes-models/cloudnative-pg/postgresql.cnpg.io/v1/Cluster";
import { Database } from "@kubernetes-models/cloudnative-pg/postgresql.cnpg.io/v1/Database";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject";
import { TriggerAuthentication } from "@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication";

const MODELS = {
  "postgresql.cnpg.io/v1/Cluster": Cluster,
  "postgresql.cnpg.io/v1/Database": Database,
  "keda.sh/v1alpha1/ScaledObject": ScaledObject,
  "keda.sh/v1alpha1/TriggerAuthentication": TriggerAuthentication,
};

let input = "";
for await (const chunk of process.stdin) input += chunk;
const answers = JSON.parse(input).map((resource) => {
  const Model = MODELS[`${resource.apiVersion}/${resource.kind}`];
  const answer = { kind: resource.kind, name: resource.metadata?.name ?? null, errors: null };
  if (!Model) return answer;
  try {
    new Model(resource).validate();
    answer.errors = [];
  } catch (error) {
    answer.errors = [String(error.message ?? error)];
  }
  return answer;
});
process.stdout.write(JSON.stringify(answers));
