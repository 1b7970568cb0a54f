/**
 * The messages of Firestore's gRPC API (google.firestore.v1) that the client sends and reads,
 * with the field numbers of Google's published protos, by their proto3 JSON names. Fields the
 * client never uses are left out; the codec skips them in answers.
 */
import { type FieldSpec, type FieldType, ProtobufCodec, type Schema } from './protobuf';

const field = (number: number, type: FieldType): FieldSpec => ({ number, type });
const repeated = (number: number, type: FieldType): FieldSpec => ({ number, type, repeated: true });
const message = (name: string) => ({ message: name });

export const FIRESTORE_MESSAGES: Schema = {
  Value: {
    nullValue: field(11, 'null'),
    booleanValue: field(1, 'bool'),
    integerValue: field(2, 'int64'),
    doubleValue: field(3, 'double'),
    timestampValue: field(10, 'timestamp'),
    stringValue: field(17, 'string'),
    bytesValue: field(18, 'bytes'),
    referenceValue: field(5, 'string'),
    geoPointValue: field(8, message('LatLng')),
    arrayValue: field(9, message('ArrayValue')),
    mapValue: field(6, message('MapValue')),
  },
  LatLng: { latitude: field(1, 'double'), longitude: field(2, 'double') },
  ArrayValue: { values: repeated(1, message('Value')) },
  MapValue: { fields: field(1, { mapOf: 'Value' }) },
  Document: {
    name: field(1, 'string'),
    fields: field(2, { mapOf: 'Value' }),
    createTime: field(3, 'timestamp'),
    updateTime: field(4, 'timestamp'),
  },
  DocumentMask: { fieldPaths: repeated(1, 'string') },
  Precondition: { exists: field(1, 'bool'), updateTime: field(2, 'timestamp') },
  TransactionOptions: { readOnly: field(2, message('ReadOnly')), readWrite: field(3, message('ReadWrite')) },
  ReadOnly: { readTime: field(2, 'timestamp') },
  ReadWrite: { retryTransaction: field(1, 'bytes') },

  BatchGetDocumentsRequest: {
    database: field(1, 'string'),
    documents: repeated(2, 'string'),
    mask: field(3, message('DocumentMask')),
    transaction: field(4, 'bytes'),
    newTransaction: field(5, message('TransactionOptions')),
  },
  BatchGetDocumentsResponse: {
    found: field(1, message('Document')),
    missing: field(2, 'string'),
    transaction: field(3, 'bytes'),
    readTime: field(4, 'timestamp'),
  },

  CommitRequest: { database: field(1, 'string'), writes: repeated(2, message('Write')), transaction: field(3, 'bytes') },
  CommitResponse: { commitTime: field(2, 'timestamp') },
  Write: {
    update: field(1, message('Document')),
    delete: field(2, 'string'),
    updateMask: field(3, message('DocumentMask')),
    updateTransforms: repeated(7, message('FieldTransform')),
    currentDocument: field(4, message('Precondition')),
  },
  FieldTransform: {
    fieldPath: field(1, 'string'),
    setToServerValue: field(2, { enum: { SERVER_VALUE_UNSPECIFIED: 0, REQUEST_TIME: 1 } }),
  },

  RollbackRequest: { database: field(1, 'string'), transaction: field(2, 'bytes') },
  Empty: {},

  RunQueryRequest: {
    parent: field(1, 'string'),
    structuredQuery: field(2, message('StructuredQuery')),
    transaction: field(5, 'bytes'),
    newTransaction: field(6, message('TransactionOptions')),
  },
  RunQueryResponse: {
    document: field(1, message('Document')),
    transaction: field(2, 'bytes'),
    readTime: field(3, 'timestamp'),
    skippedResults: field(4, 'int32'),
    done: field(6, 'bool'),
  },
  StructuredQuery: {
    select: field(1, message('Projection')),
    from: repeated(2, message('CollectionSelector')),
    where: field(3, message('Filter')),
    orderBy: repeated(4, message('Order')),
    startAt: field(7, message('Cursor')),
    endAt: field(8, message('Cursor')),
    offset: field(6, 'int32'),
    limit: field(5, 'int32Value'),
  },
  CollectionSelector: { collectionId: field(2, 'string'), allDescendants: field(3, 'bool') },
  Filter: {
    compositeFilter: field(1, message('CompositeFilter')),
    fieldFilter: field(2, message('FieldFilter')),
    unaryFilter: field(3, message('UnaryFilter')),
  },
  CompositeFilter: { op: field(1, { enum: { OPERATOR_UNSPECIFIED: 0, AND: 1, OR: 2 } }), filters: repeated(2, message('Filter')) },
  FieldFilter: {
    field: field(1, message('FieldReference')),
    op: field(2, {
      enum: {
        OPERATOR_UNSPECIFIED: 0,
        LESS_THAN: 1,
        LESS_THAN_OR_EQUAL: 2,
        GREATER_THAN: 3,
        GREATER_THAN_OR_EQUAL: 4,
        EQUAL: 5,
        NOT_EQUAL: 6,
        ARRAY_CONTAINS: 7,
        IN: 8,
        ARRAY_CONTAINS_ANY: 9,
        NOT_IN: 10,
      },
    }),
    value: field(3, message('Value')),
  },
  UnaryFilter: {
    op: field(1, { enum: { OPERATOR_UNSPECIFIED: 0, IS_NAN: 2, IS_NULL: 3, IS_NOT_NAN: 4, IS_NOT_NULL: 5 } }),
    field: field(2, message('FieldReference')),
  },
  Order: { field: field(1, message('FieldReference')), direction: field(2, { enum: { DIRECTION_UNSPECIFIED: 0, ASCENDING: 1, DESCENDING: 2 } }) },
  FieldReference: { fieldPath: field(2, 'string') },
  Projection: { fields: repeated(2, message('FieldReference')) },
  Cursor: { values: repeated(1, message('Value')), before: field(2, 'bool') },

  RunAggregationQueryRequest: { parent: field(1, 'string'), structuredAggregationQuery: field(2, message('StructuredAggregationQuery')) },
  StructuredAggregationQuery: { structuredQuery: field(1, message('StructuredQuery')), aggregations: repeated(3, message('Aggregation')) },
  Aggregation: { count: field(1, message('Count')), alias: field(7, 'string') },
  Count: {},
  RunAggregationQueryResponse: { result: field(1, message('AggregationResult')), transaction: field(2, 'bytes'), readTime: field(3, 'timestamp') },
  AggregationResult: { aggregateFields: field(2, { mapOf: 'Value' }) },

  ListDocumentsRequest: {
    parent: field(1, 'string'),
    collectionId: field(2, 'string'),
    pageSize: field(3, 'int32'),
    pageToken: field(4, 'string'),
    mask: field(7, message('DocumentMask')),
    showMissing: field(12, 'bool'),
  },
  ListDocumentsResponse: { documents: repeated(1, message('Document')), nextPageToken: field(2, 'string') },

  ListCollectionIdsRequest: { parent: field(1, 'string'), pageSize: field(2, 'int32'), pageToken: field(3, 'string') },
  ListCollectionIdsResponse: { collectionIds: repeated(1, 'string'), nextPageToken: field(2, 'string') },
};

/** The calls of google.firestore.v1.Firestore the client makes: their request and answer messages, and whether a call may be sent again when its connection was lost before any answer (it changes nothing). */
export const FIRESTORE_METHODS = {
  BatchGetDocuments: { request: 'BatchGetDocumentsRequest', response: 'BatchGetDocumentsResponse', safeToResend: true },
  RunQuery: { request: 'RunQueryRequest', response: 'RunQueryResponse', safeToResend: true },
  RunAggregationQuery: { request: 'RunAggregationQueryRequest', response: 'RunAggregationQueryResponse', safeToResend: true },
  ListDocuments: { request: 'ListDocumentsRequest', response: 'ListDocumentsResponse', safeToResend: true },
  ListCollectionIds: { request: 'ListCollectionIdsRequest', response: 'ListCollectionIdsResponse', safeToResend: true },
  Rollback: { request: 'RollbackRequest', response: 'Empty', safeToResend: true },
  Commit: { request: 'CommitRequest', response: 'CommitResponse', safeToResend: false },
} as const;

export type FirestoreMethod = keyof typeof FIRESTORE_METHODS;

export const FIRESTORE_CODEC = new ProtobufCodec(FIRESTORE_MESSAGES);
