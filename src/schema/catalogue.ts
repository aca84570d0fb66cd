// The `models` query: which models this GitLab knows, with their REST names, so that clients need no introspection.
import { missingToken } from '../errors.js';
import { MODELS_BY_ENUM, modelsOf, pathName, type ModelInfo, type ModelKind } from '../models.js';
import { builder } from './builder.js';
import { ModelName } from './model-record.js';

const ModelKindEnum = builder.enumType('ModelKind', {
  description: 'What a record of a model is on disk; it decides how GitLab checksums it and whether it has a size.',
  values: {
    BLOB: { value: 'blob', description: 'A file (`fileSize` is its size).' },
    REPOSITORY: { value: 'repository', description: 'A Git repository (no `fileSize`).' },
    CONTAINER: { value: 'container', description: 'A container registry repository.' },
  } as const satisfies Record<string, { value: ModelKind; description: string }>,
});

const Model = builder.objectRef<{ model: ModelInfo; restName: string }>('Model').implement({
  description: 'A model of the Data management API, as this GitLab names it.',
  fields: (t) => ({
    name: t.field({ type: ModelName, description: 'Its name in this schema (the `model` argument).', resolve: ({ model }) => model.enumName }),
    modelClass: t.string({ description: "GitLab's class name, as in ModelRecord.modelClass and in global ids.", resolve: ({ model }) => model.modelClass }),
    kind: t.field({ type: ModelKindEnum, description: 'What its records are.', resolve: ({ model }) => model.kind }),
    restName: t.string({ description: "Its name in the REST paths of the API this GitLab speaks (/api/v4/admin/data_management/<restName>).", resolve: ({ restName }) => restName }),
    singularName: t.string({
      nullable: true,
      description: 'Its name in the older API (GitLab 18.3 to about 18.7); null for a model only the newer one knows.',
      resolve: ({ model }) => model.singular,
    }),
    pluralName: t.string({ description: 'Its name in the newer API (GitLab 18.8 and later).', resolve: ({ model }) => model.plural }),
  }),
});

builder.queryField('models', (t) =>
  t.field({
    type: [Model],
    nullable: true,
    description:
      "The models this GitLab knows, in the dialect of its API (the older one knows fewer). Needs a token, like every other field; GitLab is asked only while the gateway has not yet learnt which dialect it speaks (one list call of one PROJECT record).",
    resolve: async (_, _args, ctx) => {
      if (!ctx.caller.token) throw missingToken(ctx.caller);
      const { dialect } = ctx.client;
      if (!dialect.known) {
        // Any successful call teaches the dialect (see GitLabClient.withDialect); its answer is not needed.
        await ctx.loaders.list(MODELS_BY_ENUM.get('PROJECT')!, { perPage: 1, page: { flavour: 'offset', page: 1 } });
      }
      return modelsOf(dialect.dialect).map((model) => ({ model, restName: pathName(model, dialect.dialect)! }));
    },
  }),
);
